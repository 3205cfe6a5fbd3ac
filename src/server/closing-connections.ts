/**
 * Closing lets requests in flight finish, then lets go of every connection at once. Node's server.close() (with
 * Fastify's closeIdleConnections) only drops connections idle at that moment: it waits on connections that never
 * sent a request (a browser's preconnect, a pooled client socket whose request was aborted before it was written)
 * until headersTimeout, a minute, and on the keep-alive connection of a request that ends during the close for
 * keepAliveTimeout (Fastify's 72 s). Here the first are dropped when the close starts and the others as soon as
 * their response is done.
 *
 * Which connection is serving a response is read from `socket._httpMessage`, as Node's own closeIdleConnections
 * does, rather than tracked per request: nothing is added to the request path.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

type ServedSocket = Socket & { _httpMessage?: ServerResponse | null };

export function letGoOfConnectionsOnClose(app: FastifyInstance): void {
  const sockets = new Set<ServedSocket>();
  app.server.on('connection', (socket: ServedSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  app.addHook('preClose', (done) => {
    for (const socket of sockets) {
      const serving = socket._httpMessage;
      // Ending (not destroying) once the answer is out lets its last bytes reach the client.
      if (serving && !serving.writableFinished) serving.once('close', () => socket.end());
      else socket.destroy();
    }
    done();
  });
}
