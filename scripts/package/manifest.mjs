// Renders plugin.yaml.tmpl: {{version}}, {{uri os/arch}} and {{sha256 os/arch}}. Any placeholder left unfilled,
// or filled for a platform the template does not name, is an error rather than a broken manifest.
export const DEFAULT_RELEASE_URL = 'https://github.com/kubectl-selfhost/kubectl-selfhost/releases/download/{{version}}';

/**
 * @param {string} template
 * @param {{ version: string, releaseUrl: string, platforms: Record<string, { archive: string, sha256: string }> }} v
 *   version with its leading v; platforms keyed "os/arch"
 */
export function renderManifest(template, v) {
  const used = new Set();
  const base = v.releaseUrl.replaceAll('{{version}}', v.version).replace(/\/+$/, '');
  const body = template
    .split('\n')
    .filter((line) => !line.startsWith('##'))
    .join('\n')
    .replace(/\{\{\s*(version|uri|sha256)(?:\s+([a-z0-9]+\/[a-z0-9]+))?\s*\}\}/g, (whole, key, platform) => {
      if (key === 'version') return v.version;
      const p = v.platforms[platform];
      if (!p) throw new Error(`plugin.yaml.tmpl asks for ${whole}, but no archive was built for ${platform}`);
      used.add(platform);
      return key === 'uri' ? `${base}/${p.archive}` : p.sha256;
    });
  const left = body.match(/\{\{[^}]*\}\}/);
  if (left) throw new Error(`plugin.yaml.tmpl has a placeholder this renderer does not know: ${left[0]}`);
  const unused = Object.keys(v.platforms).filter((p) => !used.has(p));
  if (unused.length > 0) throw new Error(`plugin.yaml.tmpl has no platform entry for ${unused.join(', ')}`);
  return `# Rendered from plugin.yaml.tmpl by \`npm run package\`; edit the template, not this file.\n${body}`;
}
