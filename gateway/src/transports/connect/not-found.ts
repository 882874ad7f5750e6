import type { HttpHandler } from "./http-server.js";

/** The end of the fallback chain: a 404 with an empty body, as connect-node answers unknown paths itself. */
export const notFound: HttpHandler = (_request, response) => {
  response.statusCode = 404;
  response.end();
};
