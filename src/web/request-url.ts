/**
 * The URL of an HTTP request, from its target; null for one that does not parse. Node's HTTP
 * parser passes targets the URL parser refuses (`//a:b`: a host whose port is not a number), and
 * read in a listener Node calls synchronously (a WebSocket's `upgrade`, the metrics server's
 * request) the throw would end the process: one request from anyone would stop the node.
 */
export function requestUrl(target: string | undefined): URL | null {
  try {
    // A path is a path even when it starts with "//", which a URL relative to a base would read
    // as a host (`//example.com/ws` is /ws there). Absolute targets ("http://host/ws") as given.
    const path = target ?? '/'
    return new URL(path.startsWith('/') ? `http://localhost${path}` : path)
  } catch {
    return null
  }
}
