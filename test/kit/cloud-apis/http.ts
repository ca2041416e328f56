// The HTTP side every cloud stand-in shares: a server on 127.0.0.1 on a free port, each request read whole, and one
// answer per request from the stand-in's handler (an exception in the handler, such as an answer the API
// description does not allow, is a 500 that names it, so the CLI fails loudly and the test with it).
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface Request {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface Listening {
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
  /** What the handler threw: a stand-in's own mistake, which a test should see even when the CLI hides it. */
  problems: string[];
}

/** `tls`: a key and certificate in PEM, for an https stand-in (Azure's clients send tokens over https only). */
export async function listen(
  handle: (request: Request) => Answer | Promise<Answer>,
  tls?: { key: string; cert: string },
): Promise<Listening> {
  const problems: string[] = [];
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      let answer: Answer;
      try {
        answer = await handle({
          method: req.method ?? "GET",
          // Leading slashes collapsed: az asks for "//metadata/endpoints", which URL would read as a host.
          url: new URL((req.url ?? "/").replace(/^\/+/, "/"), "http://127.0.0.1"),
          headers: req.headers,
          body: Buffer.concat(chunks),
        });
      } catch (error) {
        problems.push(`${req.method} ${req.url}: ${(error as Error).message}`);
        answer = { status: 500, body: `stand-in error: ${(error as Error).message}` };
      }
      const body = answer.body ?? "";
      const headers = { ...answer.headers };
      // A HEAD answer says the length of what a GET would send, so the stand-in's own header wins.
      if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-length"))
        headers["content-length"] = String(Buffer.byteLength(body));
      res.writeHead(answer.status, headers);
      res.end(req.method === "HEAD" ? undefined : body);
    });
  };
  const server: Server = tls ? createTlsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    problems,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
