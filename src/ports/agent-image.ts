// The node agent's default image, kept apart so that the CLI can show it in --help without loading the agent.
export const DEFAULT_AGENT_IMAGE = 'docker.io/library/busybox:1.35.0';
