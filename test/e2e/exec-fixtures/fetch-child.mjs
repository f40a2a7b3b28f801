// A non-SDK ("curl-style") client: builds the request itself from ANTHROPIC_AUTH_TOKEN,
// ANTHROPIC_CUSTOM_HEADERS and ANTHROPIC_BASE_URL, as a shell script calling curl would.
const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', authorization: `Bearer ${process.env.ANTHROPIC_AUTH_TOKEN}` };
for (const line of (process.env.ANTHROPIC_CUSTOM_HEADERS ?? '').split('\n')) {
  const i = line.indexOf(':');
  if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
}
const res = await fetch(`${process.env.ANTHROPIC_BASE_URL}/v1/messages`, {
  method: 'POST',
  headers,
  body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
});
process.stdout.write(`${JSON.stringify({ status: res.status })}\n`);
process.exitCode = res.ok ? 0 : 1;
