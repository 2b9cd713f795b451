import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Calls back once when a Node response is done with, finished or not: on its `'close'`, which Node emits
 * for every response that reached its connection. A pipelined request queued behind another never gets
 * there if the client closes the connection first, and Node then emits nothing on its response: such a
 * response is called back when its connection closes. A connection gets one listener however many
 * responses wait on it.
 */
export function onResponseClosed(req: IncomingMessage, res: ServerResponse, callback: () => void): void {
  const socket = req.socket as Socket | null;
  // A response without a socket when its request arrives is queued behind another on the connection.
  if (res.socket !== null || socket === null || socket.destroyed) {
    res.on('close', callback);
    return;
  }
  const queue = queuedOn(socket);
  let called = false;
  function lostWithConnection(): void {
    // A response that reached the connection after all gets Node's 'close' (or has had it, if finished).
    if (called || res.socket !== null || res.writableFinished) return;
    called = true;
    callback();
  }
  queue.add(lostWithConnection);
  res.on('close', function closedAfterQueueing() {
    queue.delete(lostWithConnection);
    if (called) return;
    called = true;
    callback();
  });
}

const queues = new WeakMap<Socket, Set<() => void>>();

function queuedOn(socket: Socket): Set<() => void> {
  let queue = queues.get(socket);
  if (queue === undefined) {
    const responses = new Set<() => void>();
    socket.once('close', function closeQueuedResponses() {
      queues.delete(socket);
      for (const lost of responses) lost();
    });
    queues.set(socket, responses);
    queue = responses;
  }
  return queue;
}
