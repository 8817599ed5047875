// examples/http-server/server.ts: the HTTP server of examples/http-server
// (see main.ts for what it serves and how it answers), as a module: apps
// and make bench's guest call serveHttp() on a Tcp of their own.
import { log, wallClockNs, consoleWrite } from "tsxen";
import { Blkfront } from "tsxen/drivers/blkfront";
import { Tcp, TcpConn, TcpHandler } from "tsxen/drivers/net/tcp";

export const MAX_CONNECTIONS: i32 = 128;
export const BACKLOG: i32 = 32;   // half-open connections held; SYN cookies beyond
const HEADER_LIMIT: i32 = 8192;
const DISK_CHUNK: i32 = 65536;

const PAGE = "<!doctype html>\n<html><head><title>tsxen</title></head>\n<body><h1>Hello from tsxen</h1>\n" +
  "<p>An HTTP server in a Xen guest written in TypeScript. Try <a href=\"/api/counter\">/api/counter</a> and <a href=\"/disk\">/disk</a>.</p>\n</body></html>\n";

// ---- byte helpers

// A string's UTF-8 bytes, made once at start.
class Bytes {
  ptr: usize;
  len: i32;
  constructor(text: string) {
    const b = String.UTF8.encode(text);
    this.len = b.byteLength;
    this.ptr = heap.alloc(<usize>this.len);
    memory.copy(this.ptr, changetype<usize>(b), <usize>this.len);
  }
}

// Builds text into a fixed buffer (no allocation).
class Out {
  at: i32 = 0;
  constructor(public buf: usize, public cap: i32) {}
  reset(): Out { this.at = 0; return this; }
  bytes(p: usize, n: i32): Out {
    const k = min(n, this.cap - this.at);
    memory.copy(this.buf + <usize>this.at, p, <usize>k);
    this.at += k;
    return this;
  }
  text(b: Bytes): Out { return this.bytes(b.ptr, b.len); }
  byte(c: i32): Out {
    if (this.at < this.cap) {
      store<u8>(this.buf + <usize>this.at, <u8>c);
      this.at++;
    }
    return this;
  }
  num(v: u64): Out {
    let d: u64 = 1;
    while (v / d >= 10) d *= 10;
    for (; d > 0; d /= 10) this.byte(48 + <i32>((v / d) % 10));
    return this;
  }
  two(v: i32): Out { return this.byte(48 + v / 10).byte(48 + v % 10); }
}

const CRLF = new Bytes("\r\n");
const H_SERVER = new Bytes("Server: tsxen\r\nDate: ");
const H_LENGTH = new Bytes("\r\nContent-Length: ");
const H_TYPE = new Bytes("\r\nContent-Type: ");
const H_KEEP = new Bytes("\r\nConnection: keep-alive\r\n\r\n");
const H_CLOSE = new Bytes("\r\nConnection: close\r\n\r\n");
const T_HTML = new Bytes("text/html; charset=utf-8");
const T_JSON = new Bytes("application/json");
const T_BINARY = new Bytes("application/octet-stream");
const T_TEXT = new Bytes("text/plain; charset=utf-8");
const BODY_PAGE = new Bytes(PAGE);
const JSON_OPEN = new Bytes("{\"requests\": ");
const STATUS_LINES = [
  new Bytes("HTTP/1.1 200 OK\r\n"), new Bytes("HTTP/1.1 400 Bad Request\r\n"), new Bytes("HTTP/1.1 404 Not Found\r\n"),
  new Bytes("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"), new Bytes("HTTP/1.1 413 Content Too Large\r\n"),
];
const STATUS_CODES: StaticArray<i32> = [200, 400, 404, 405, 413];
const ERROR_BODIES = [new Bytes(""), new Bytes("bad request\n"), new Bytes("not found\n"), new Bytes("method not allowed\n"), new Bytes("request header too large\n")];
const S_OK = 0, S_BAD = 1, S_NOT_FOUND = 2, S_METHOD = 3, S_TOO_LARGE = 4;
const DAYS = new Bytes("ThuFriSatSunMonTueWed");
const MONTHS = new Bytes("JanFebMarAprMayJunJulAugSepOctNovDec");

const scratch = new Out(heap.alloc(16384), 16384);
const logLine = new Out(heap.alloc(512), 512);
const json = new Out(heap.alloc(64), 64);
let diskBuf: usize = 0;

// RFC 9110 §5.6.7 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
function date(o: Out): void {
  const secs = wallClockNs() / 1_000_000_000;
  const days = <i64>(secs / 86400);
  const rem = <i32>(secs % 86400);
  o.bytes(DAYS.ptr + <usize>(days % 7) * 3, 3).byte(44).byte(32);
  // Civil date from days since 1970-01-01 (the algorithm of H. Hinnant's "chrono-compatible date algorithms").
  const z = days + 719468;
  const era = z / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = <i32>(doy - (153 * mp + 2) / 5 + 1);
  const m = <i32>(mp < 10 ? mp + 3 : mp - 9);
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  o.two(d).byte(32).bytes(MONTHS.ptr + <usize>(m - 1) * 3, 3).byte(32).num(<u64>y).byte(32);
  o.two(rem / 3600).byte(58).two((rem / 60) % 60).byte(58).two(rem % 60).byte(32).byte(71).byte(77).byte(84);
}

// ---- per connection (by TCP slot id)

const request = new StaticArray<usize>(MAX_CONNECTIONS);   // HEADER_LIMIT bytes each, made on first use
const requestLen = new StaticArray<i32>(MAX_CONNECTIONS);
const fileLeft = new StaticArray<u64>(MAX_CONNECTIONS);    // bytes of /disk still to send
const fileAt = new StaticArray<u64>(MAX_CONNECTIONS);
const closeAfter = new StaticArray<bool>(MAX_CONNECTIONS);
let served: u64 = 0;
let quiet = false;
let disk: Blkfront | null = null;

// Where "\r\n\r\n" ends in buf[0..len), or -1.
function headerEnd(buf: usize, len: i32): i32 {
  for (let i = 3; i < len; i++) {
    if (load<u8>(buf + <usize>i) == 10 && load<u8>(buf + <usize>i - 1) == 13 && load<u8>(buf + <usize>i - 2) == 10 && load<u8>(buf + <usize>i - 3) == 13) return i + 1;
  }
  return -1;
}

function equalsAt(buf: usize, len: i32, text: string): bool {
  if (len != text.length) return false;
  for (let i = 0; i < len; i++) if (<i32>load<u8>(buf + <usize>i) != text.charCodeAt(i)) return false;
  return true;
}

// Case-insensitive: does the header line at buf (len bytes) start with `name:`?
function headerIs(buf: usize, len: i32, name: string): bool {
  if (len <= name.length || load<u8>(buf + <usize>name.length) != 58) return false;
  for (let i = 0; i < name.length; i++) {
    let c = <i32>load<u8>(buf + <usize>i);
    if (c >= 65 && c <= 90) c += 32;
    if (c != name.charCodeAt(i)) return false;
  }
  return true;
}

// Does the header value (after "name:") contain `token`, case-insensitively?
function valueHas(buf: usize, len: i32, from: i32, token: string): bool {
  for (let i = from; i + token.length <= len; i++) {
    let ok = true;
    for (let j = 0; j < token.length && ok; j++) {
      let c = <i32>load<u8>(buf + <usize>(i + j));
      if (c >= 65 && c <= 90) c += 32;
      ok = c == token.charCodeAt(j);
    }
    if (ok) return true;
  }
  return false;
}

function logRequest(conn: TcpConn, line: usize, lineLen: i32, status: i32, bytes: u64): void {
  if (quiet) return;
  const o = logLine.reset();
  o.text(HTTP_PREFIX).num(<u64>(conn.remoteIp >> 24)).byte(46).num(<u64>((conn.remoteIp >> 16) & 255)).byte(46)
    .num(<u64>((conn.remoteIp >> 8) & 255)).byte(46).num(<u64>(conn.remoteIp & 255)).byte(58).num(<u64>conn.remotePort)
    .byte(32).byte(34).bytes(line, min(lineLen, 200)).byte(34).byte(32).num(<u64>status).byte(32).num(bytes).byte(10);
  consoleWrite(o.buf, o.at);
}
const HTTP_PREFIX = new Bytes("http: ");

// Writes a response head (and a small body) into the connection.
function respond(conn: TcpConn, status: i32, type: Bytes, length: u64, body: usize, bodyLen: i32, keep: bool): void {
  const o = scratch.reset();
  o.text(STATUS_LINES[status]).text(H_SERVER);
  date(o);
  o.text(H_TYPE).text(type).text(H_LENGTH).num(length).text(keep ? H_KEEP : H_CLOSE);
  if (bodyLen > 0) o.bytes(body, bodyLen);
  conn.writeRaw(o.buf, o.at);
}

function fail(conn: TcpConn, status: i32, line: usize, lineLen: i32): void {
  const b = ERROR_BODIES[status];
  respond(conn, status, T_TEXT, <u64>b.len, b.ptr, b.len, false);
  logRequest(conn, line, lineLen, STATUS_CODES[status], <u64>b.len);
  closeAfter[conn.id] = true;
  conn.close();
}

class Http extends TcpHandler {
  onConnect(conn: TcpConn): void {
    const id = conn.id;
    if (request[id] == 0) request[id] = heap.alloc(<usize>HEADER_LIMIT);
    requestLen[id] = 0;
    fileLeft[id] = 0;
    closeAfter[id] = false;
    conn.setNoDelay(true);
  }

  onData(conn: TcpConn, data: usize, len: i32): i32 {
    const id = conn.id;
    if (closeAfter[id]) return len;          // closing: the rest is not read
    // Take what fits; while a response waits for room, requests queue up
    // here and then in TCP's receive buffer (our window closes).
    const take = min(len, HEADER_LIMIT - requestLen[id]);
    memory.copy(request[id] + <usize>requestLen[id], data, <usize>take);
    requestLen[id] += take;
    this.serve(conn);
    return closeAfter[id] ? len : take;
  }

  onWritable(conn: TcpConn): void {
    if (fileLeft[conn.id] > 0) this.sendFile(conn);
    if (fileLeft[conn.id] == 0) { this.serve(conn); conn.resumeData(); }
  }

  // Serves every complete request in the buffer, in order, while the send
  // buffer has room for a response head.
  serve(conn: TcpConn): void {
    const id = conn.id;
    while (fileLeft[id] == 0 && !closeAfter[id]) {
      if (conn.writable() < 4096) { conn.notifyWhenWritable(); return; }
      const buf = request[id];
      const end = headerEnd(buf, requestLen[id]);
      if (end < 0) {
        if (requestLen[id] >= HEADER_LIMIT) fail(conn, S_TOO_LARGE, buf, 0);
        return;
      }
      this.handle(conn, buf, end);
      if (closeAfter[id]) return;
      // Pipelined requests move to the front.
      const rest = requestLen[id] - end;
      memory.copy(buf, buf + <usize>end, <usize>rest);
      requestLen[id] = rest;
    }
  }

  // One request: buf[0..end) holds its request line and header fields.
  handle(conn: TcpConn, buf: usize, end: i32): void {
    served++;
    // The request line: METHOD SP target SP HTTP-version CRLF.
    let lineEnd = 0;
    while (lineEnd < end && load<u8>(buf + <usize>lineEnd) != 13) lineEnd++;
    let sp1 = 0;
    while (sp1 < lineEnd && load<u8>(buf + <usize>sp1) != 32) sp1++;
    let sp2 = sp1 + 1;
    while (sp2 < lineEnd && load<u8>(buf + <usize>sp2) != 32) sp2++;
    const version = buf + <usize>sp2 + 1;
    const versionLen = lineEnd - sp2 - 1;
    const v11 = equalsAt(version, versionLen, "HTTP/1.1");
    if (sp1 == 0 || sp2 >= lineEnd || sp2 - sp1 < 2 || (!v11 && !equalsAt(version, versionLen, "HTTP/1.0"))) { fail(conn, S_BAD, buf, lineEnd); return; }
    for (let i = 0; i < lineEnd; i++) {
      const c = load<u8>(buf + <usize>i);
      if (c < 32 || c == 127) { fail(conn, S_BAD, buf, lineEnd); return; }
    }
    // Header fields: Host (required by HTTP/1.1), Connection, a body (not taken).
    let keep = v11;
    let host = false;
    let body = false;
    let at = lineEnd + 2;
    while (at < end - 2) {
      let e = at;
      while (e < end && load<u8>(buf + <usize>e) != 13) e++;
      if (e >= end || load<u8>(buf + <usize>e + 1) != 10) { fail(conn, S_BAD, buf, lineEnd); return; }
      const h = buf + <usize>at;
      const n = e - at;
      let colon = 0;
      while (colon < n && load<u8>(h + <usize>colon) != 58) colon++;
      if (colon == 0 || colon == n) { fail(conn, S_BAD, buf, lineEnd); return; }
      for (let i = 0; i < colon; i++) {
        const c = load<u8>(h + <usize>i);
        if (c <= 32 || c == 127) { fail(conn, S_BAD, buf, lineEnd); return; }   // no space before the colon (RFC 9112 §5.1)
      }
      if (headerIs(h, n, "host")) host = true;
      else if (headerIs(h, n, "connection")) {
        if (valueHas(h, n, colon + 1, "close")) keep = false;
        else if (valueHas(h, n, colon + 1, "keep-alive")) keep = true;
      } else if (headerIs(h, n, "transfer-encoding")) body = true;
      else if (headerIs(h, n, "content-length")) {
        for (let i = colon + 1; i < n; i++) { const c = load<u8>(h + <usize>i); if (c >= 49 && c <= 57) body = true; }
      }
      at = e + 2;
    }
    if (v11 && !host) { fail(conn, S_BAD, buf, lineEnd); return; }
    if (body) { fail(conn, S_TOO_LARGE, buf, lineEnd); return; }
    const method = buf;
    const head = equalsAt(method, sp1, "HEAD");
    if (!head && !equalsAt(method, sp1, "GET")) {
      const b = ERROR_BODIES[S_METHOD];
      respond(conn, S_METHOD, T_TEXT, <u64>b.len, b.ptr, b.len, keep);
      logRequest(conn, buf, lineEnd, 405, <u64>b.len);
      if (!keep) { closeAfter[conn.id] = true; conn.close(); }
      return;
    }
    const path = buf + <usize>sp1 + 1;
    const pathLen = sp2 - sp1 - 1;
    let status = 200;
    let sent: u64 = 0;
    if (equalsAt(path, pathLen, "/") || equalsAt(path, pathLen, "/index.html")) {
      respond(conn, S_OK, T_HTML, <u64>BODY_PAGE.len, BODY_PAGE.ptr, head ? 0 : BODY_PAGE.len, keep);
      sent = head ? 0 : <u64>BODY_PAGE.len;
    } else if (equalsAt(path, pathLen, "/api/counter")) {
      const j = json.reset();
      j.text(JSON_OPEN).num(served).byte(125).byte(10);
      const jsonLen = j.at;
      respond(conn, S_OK, T_JSON, <u64>jsonLen, j.buf, head ? 0 : jsonLen, keep);
      sent = head ? 0 : <u64>jsonLen;
    } else if (equalsAt(path, pathLen, "/disk") && disk !== null && disk!.broken === null) {
      const size = disk!.sectors * 512;
      respond(conn, S_OK, T_BINARY, size, 0, 0, keep);
      if (!head) {
        fileAt[conn.id] = 0;
        fileLeft[conn.id] = size;
        sent = size;
        this.sendFile(conn);
      }
    } else {
      const b = ERROR_BODIES[S_NOT_FOUND];
      respond(conn, S_NOT_FOUND, T_TEXT, <u64>b.len, b.ptr, head ? 0 : b.len, keep);
      status = 404;
      sent = <u64>b.len;
    }
    logRequest(conn, buf, lineEnd, status, sent);
    if (!keep) {
      closeAfter[conn.id] = true;
      if (fileLeft[conn.id] == 0) conn.close();
    }
  }

  // Sends as much of the disk as the send buffer takes, reading it as it
  // goes (a blocking read: this handler waits, the loop serves the rest).
  sendFile(conn: TcpConn): void {
    const id = conn.id;
    const d = disk!;
    while (fileLeft[id] > 0) {
      const room = conn.writable();
      if (room < 4096) { conn.notifyWhenWritable(); return; }   // onWritable brings us back
      const first = fileAt[id] / 512;
      const skip = <i32>(fileAt[id] % 512);
      const want = <i32>min<u64>(<u64>min(room, DISK_CHUNK - 512), fileLeft[id]);
      const count = <u64>((skip + want + 511) / 512);
      const err = d.readSync(first, count, diskBuf);
      if (err !== null) { log("http: disk read failed: " + err); fileLeft[id] = 0; conn.abort(); return; }
      const n = conn.writeRaw(diskBuf + <usize>skip, want);
      if (n <= 0) return;
      fileAt[id] += <u64>n;
      fileLeft[id] -= <u64>n;
    }
    if (closeAfter[id]) conn.close();
  }

  onClose(conn: TcpConn, reason: i32): void {
    fileLeft[conn.id] = 0;
  }
}

// Serves on `port` of `tcp` (whose maxConnections should be at least
// MAX_CONNECTIONS); /disk from `d` if given; `silent`: no log line per request.
export function serveHttp(tcp: Tcp, port: u16, d: Blkfront | null, silent: bool): bool {
  quiet = silent;
  if (d !== null && d.broken === null) {
    disk = d;
    if (diskBuf == 0) diskBuf = heap.alloc(<usize>DISK_CHUNK);
  }
  return tcp.listen(port, new Http(), BACKLOG, MAX_CONNECTIONS);
}

// The disk /disk serves, if any.
export function servedDisk(): Blkfront | null { return disk; }

