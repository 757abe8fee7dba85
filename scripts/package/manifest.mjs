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

/**
 * The same manifest as a template for krew-release-bot (.krew.yaml at the repository root): Go text/template with
 * {{ .TagName }} for the version and, per platform, {{ addURIAndSha "<url>" .TagName }}, which the bot replaces by
 * `uri: <url>` and `sha256: <sum of the file it downloads>` (the sha256 line at four spaces, where the template's
 * uri lines are). One source, plugin.yaml.tmpl: the release bot proposes exactly what `npm run package` renders.
 *
 * @param {string} template plugin.yaml.tmpl
 * @param {{ releaseUrl: string, archives: Record<string, string> }} v archive names keyed "os/arch", with the
 *   version spelt {{ .TagName }}
 */
export function renderKrewBotTemplate(template, v) {
  const tag = '{{ .TagName }}';
  const base = v.releaseUrl.replaceAll('{{version}}', tag).replace(/\/+$/, '');
  const body = template
    .split('\n')
    .filter((line) => !line.startsWith('##'))
    .join('\n')
    .replace(/^( *)uri: \{\{\s*uri ([a-z0-9]+\/[a-z0-9]+)\s*\}\}\n *sha256: \{\{\s*sha256 \2\s*\}\}$/gm, (whole, indent, platform) => {
      const archive = v.archives[platform];
      if (!archive) throw new Error(`plugin.yaml.tmpl asks for ${platform}, which is not built`);
      if (indent !== '    ') throw new Error(`addURIAndSha writes its sha256 line at four spaces; ${platform}'s uri is at ${indent.length}`);
      return `${indent}{{ addURIAndSha "${base}/${archive}" .TagName }}`;
    })
    .replace(/\{\{\s*version\s*\}\}/g, tag);
  const left = body.replace(/\{\{ (\.TagName|addURIAndSha "[^"]*" \.TagName) \}\}/g, '').match(/\{\{.*?\}\}/);
  if (left) throw new Error(`plugin.yaml.tmpl has a placeholder the krew-release-bot template cannot carry: ${left[0]}`);
  // A template comment: the bot drops it (and, with -}}, the line end), so krew-index never sees it.
  return `{{/* krew-release-bot's template, generated from plugin.yaml.tmpl by "npm run package -- --update-plugin-yaml"; edit that template, not this file. */ -}}\n${body}`;
}
