// What krew-release-bot makes of .krew.yaml, restated from its renderer (rajatjindal/krew-release-bot,
// pkg/source/template.go at 12767d16a333ea47177c94cb9dea3ee9277a012f): Go text/template over the release's
// { TagName }, with addURIAndSha(url, tag) rendering the URL as a template of { TagName, Version } and returning
// "uri: <url>\n    sha256: <sum of the downloaded file>". The bot is not on the Go module proxy reachable here, so
// this covers the subset .krew.yaml uses and refuses anything else; sha256Of stands in for the download.

export function renderLikeKrewReleaseBot(template: string, tag: string, sha256Of: (url: string) => string): string {
  // An action ends at the first }} outside a quoted string (addURIAndSha's URL holds {{ .TagName }} itself).
  const actions = /\{\{(-?)\s*((?:"[^"]*"|[^"}])*?)\s*(-?)\}\}/gs;
  let out = '';
  let last = 0;
  let trimNext = false;
  for (const m of template.matchAll(actions)) {
    let before = template.slice(last, m.index);
    if (trimNext) before = before.replace(/^\s+/, '');
    if (m[1] === '-') before = before.replace(/\s+$/, '');
    out += before + evaluate(m[2]!, tag, sha256Of);
    trimNext = m[3] === '-';
    last = m.index + m[0].length;
  }
  const rest = template.slice(last);
  return out + (trimNext ? rest.replace(/^\s+/, '') : rest);
}

function evaluate(action: string, tag: string, sha256Of: (url: string) => string): string {
  if (/^\/\*.*\*\/$/s.test(action)) return ''; // a comment
  if (action === '.TagName') return tag;
  const call = /^addURIAndSha "([^"]*)" \.TagName$/.exec(action);
  if (call) {
    const url = call[1]!.replace(/\{\{\s*\.TagName\s*\}\}/g, tag).replace(/\{\{\s*\.Version\s*\}\}/g, /\d+(\.\d+)+/.exec(tag)?.[0] ?? tag);
    if (url.includes('{{')) throw new Error(`addURIAndSha: unknown placeholder in ${call[1]}`);
    return `uri: ${url}\n    sha256: ${sha256Of(url)}`;
  }
  throw new Error(`krew-release-bot template action this check does not know: {{ ${action} }}`);
}
