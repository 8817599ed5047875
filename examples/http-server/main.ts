// examples/http-server: an HTTP/1.1 server (RFC 9112 message syntax, RFC
// 9110 semantics) on port 80 of the first vif, with:
//   GET /                 a small HTML page
//   GET /api/counter      JSON {"requests": N}, the requests served so far
//   GET /disk             the first disk's contents (application/octet-stream),
//                         read from blkfront as the client takes it
// and HEAD for each. Connections are kept alive (HTTP/1.1's default;
// HTTP/1.0 asks with "Connection: keep-alive"); requests may be pipelined.
// Errors: 400 for a malformed request (bad request line, control
// characters, HTTP/1.1 without Host), 404 for other paths, 405 for other
// methods, 413 when the request's header passes HEADER_LIMIT bytes or it
// carries a body; each of these closes the connection. At most
// MAX_CONNECTIONS connections at once (TCP drops further SYNs until one
// closes; clients retry). One log line per request:
//   http: 10.0.0.1:40312 "GET /api/counter HTTP/1.1" 200 21
// unless the command line says `quiet` (for benchmarks). The address is
// xl's `ip=`, else DHCP's.
//
// Nothing is allocated per request: each connection slot has its request
// buffer (by the TCP connection's id), responses are built in one scratch
// buffer, and the log line is formatted into another and written to the
// console directly.
import { log, startInfo } from "tsxen";
import { connectVifs } from "tsxen/drivers/netfront";
import { connectAll } from "tsxen/drivers/blkfront";
import { NetStack } from "tsxen/drivers/net/stack";
import { Tcp, TcpOptions } from "tsxen/drivers/net/tcp";
import { ipString } from "tsxen/drivers/net/bytes";
import { serveHttp, servedDisk, MAX_CONNECTIONS } from "./server";

const PORT: u16 = 80;

export function main(): void {
  const vifs = connectVifs();
  if (vifs.length == 0) { log("http: no vif"); return; }
  const stack = new NetStack(vifs[0]);
  const disks = connectAll();
  if (!stack.waitForAddress(120_000_000_000)) { log("http: no address"); return; }
  const options = new TcpOptions();
  options.maxConnections = MAX_CONNECTIONS;
  const tcp = new Tcp(stack, options);
  serveHttp(tcp, PORT, disks.length > 0 ? disks[0] : null, startInfo().cmdLine.includes("quiet"));
  const disk = servedDisk();
  log("http: serving on http://" + ipString(stack.ip) + ":" + PORT.toString() + "/" + (disk !== null ? " (/disk: " + (disk.sectors * 512).toString() + " bytes)" : " (no disk)"));
}
