// examples/tcp-echo: a TCP echo server on port 7 (RFC 862) on the first
// vif: every byte a client sends comes back. The address is xl's `ip=`,
// else one from DHCP. Shows the TCP API's back-pressure: when the send
// buffer is full, onData takes only what fits and the rest waits (our
// receive window closes, so the client slows down) until onWritable.
import { log } from "tsxen";
import { connectVifs } from "tsxen/drivers/netfront";
import { NetStack } from "tsxen/drivers/net/stack";
import { Tcp, TcpConn, TcpHandler, closeReasonName } from "tsxen/drivers/net/tcp";
import { ipString } from "tsxen/drivers/net/bytes";

class Echo extends TcpHandler {
  onConnect(conn: TcpConn): void {
    log("echo: " + ipString(conn.remoteIp) + ":" + conn.remotePort.toString() + " connected");
  }
  onData(conn: TcpConn, data: usize, len: i32): i32 {
    const n = conn.writeRaw(data, len);   // what fits in the send buffer
    return n < 0 ? len : n;               // the rest is offered again after onWritable
  }
  onWritable(conn: TcpConn): void {
    conn.resumeData();
  }
  onClose(conn: TcpConn, reason: i32): void {
    log("echo: " + ipString(conn.remoteIp) + ":" + conn.remotePort.toString() + " " + closeReasonName(reason) +
        ", " + conn.bytesIn.toString() + " bytes echoed");
  }
}

export function main(): void {
  const vifs = connectVifs();
  if (vifs.length == 0) { log("echo: no vif"); return; }
  const stack = new NetStack(vifs[0]);
  if (!stack.waitForAddress(60_000_000_000)) { log("echo: no address"); return; }
  const tcp = new Tcp(stack);
  tcp.listen(7, new Echo());
  log("echo: listening on " + ipString(stack.ip) + ":7");
}
