//go:build wasip1

package inlet

// Hand-written canonical-ABI imports of WASI 0.2 HTTP (wasi:http/types, outgoing-handler,
// wasi:io/streams, wasi:io/poll, wasi:clocks/monotonic-clock), for one blocking request and
// response. Same rules as abi_wasip1.go: pointers are wasm32 uint32s, resources are i32
// handles, and a function whose results flatten to more than one core value returns them
// through a caller-allocated "return area" whose layout is listed next to each import.
//
// Layouts used below (canonical ABI; discriminants are u8 when there are <= 256 cases):
//   result<own<T>> / result<own<T>, _>          disc @0, handle @4; size 8, align 4
//   stream-error = variant { last-operation-failed(own<error>), closed }   size 8, align 4
//   result<_, stream-error>                     disc @0, stream-error @4; size 12
//   result<list<u8>, stream-error>              disc @0, (ptr,len) or stream-error @4; size 12
//   error-code (wasi:http) = variant of ~39 cases whose largest payload is 24 bytes and whose
//     strictest alignment is 8 (option<u64>)    disc u8 @0, payload @8; size 32, align 8
//   result<_, error-code> / result<own<T>, error-code>   disc @0, payload @8; size 40, align 8
//   option<result<result<own<incoming-response>, error-code>, _>>   (future.get)
//     option disc @0; outer result disc @8; inner result disc @16; handle or error-code @24;
//     size 56, align 8
//   result<_, header-error>                     disc @0, enum u8 @1; size 2
//   list<tuple<string, list<u8>>>               elements of 16 bytes: name (ptr,len) @0, value @8
// The versions are those of the WIT that build.sh embeds (WASI 0.2.12); the host links any
// 0.2.x. An import whose results hold a string or a list (error-code has option<string>
// payloads) is called through hostCall: the host fills them in with cabi_realloc, which must
// not run into the GC (abi_wasip1.go).

import (
	"fmt"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// ---- wasi:http/types ----

//go:wasmimport wasi:http/types@0.2.12 [constructor]fields
func wasmFieldsNew() uint32

//go:wasmimport wasi:http/types@0.2.12 [method]fields.append
func wasmFieldsAppend(self, nameP, nameN, valP, valN, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [method]fields.entries
func wasmFieldsEntries(self, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]fields
func wasmFieldsDrop(h uint32)

//go:wasmimport wasi:http/types@0.2.12 [constructor]outgoing-request
func wasmOutgoingRequestNew(headers uint32) uint32

// method = variant { get, head, post, put, delete, connect, options, trace, patch, other(string) },
// flattened to (disc, ptr, len); result<_, _> flattens to one i32.
//
//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-request.set-method
func wasmSetMethod(self, disc, p, n uint32) uint32

// option<scheme>, scheme = variant { HTTP, HTTPS, other(string) }: (is-some, disc, ptr, len).
//
//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-request.set-scheme
func wasmSetScheme(self, some, disc, p, n uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-request.set-authority
func wasmSetAuthority(self, some, p, n uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-request.set-path-with-query
func wasmSetPathWithQuery(self, some, p, n uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-request.body
func wasmOutgoingRequestBody(self, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]outgoing-request
func wasmOutgoingRequestDrop(h uint32)

//go:wasmimport wasi:http/types@0.2.12 [method]outgoing-body.write
func wasmOutgoingBodyWrite(self, ret uint32)

// finish(this: own<outgoing-body>, trailers: option<own<trailers>>) -> result<_, error-code>.
//
//go:wasmimport wasi:http/types@0.2.12 [static]outgoing-body.finish
func wasmOutgoingBodyFinish(body, someTrailers, trailers, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]outgoing-body
func wasmOutgoingBodyDrop(h uint32)

//go:wasmimport wasi:http/types@0.2.12 [method]future-incoming-response.subscribe
func wasmFutureSubscribe(self uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]future-incoming-response.get
func wasmFutureGet(self, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]future-incoming-response
func wasmFutureDrop(h uint32)

//go:wasmimport wasi:http/types@0.2.12 [method]incoming-response.status
func wasmResponseStatus(self uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]incoming-response.headers
func wasmResponseHeaders(self uint32) uint32

//go:wasmimport wasi:http/types@0.2.12 [method]incoming-response.consume
func wasmResponseConsume(self, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]incoming-response
func wasmResponseDrop(h uint32)

//go:wasmimport wasi:http/types@0.2.12 [method]incoming-body.stream
func wasmIncomingBodyStream(self, ret uint32)

//go:wasmimport wasi:http/types@0.2.12 [resource-drop]incoming-body
func wasmIncomingBodyDrop(h uint32)

// ---- wasi:http/outgoing-handler ----

// handle(request: own<outgoing-request>, options: option<own<request-options>>)
// -> result<own<future-incoming-response>, error-code>.
//
//go:wasmimport wasi:http/outgoing-handler@0.2.12 handle
func wasmHandle(req, someOpts, opts, ret uint32)

// ---- wasi:io ----

//go:wasmimport wasi:io/streams@0.2.12 [method]output-stream.blocking-write-and-flush
func wasmBlockingWriteAndFlush(self, p, n, ret uint32)

//go:wasmimport wasi:io/streams@0.2.12 [resource-drop]output-stream
func wasmOutputStreamDrop(h uint32)

//go:wasmimport wasi:io/streams@0.2.12 [method]input-stream.blocking-read
func wasmBlockingRead(self uint32, n uint64, ret uint32)

//go:wasmimport wasi:io/streams@0.2.12 [resource-drop]input-stream
func wasmInputStreamDrop(h uint32)

//go:wasmimport wasi:io/error@0.2.12 [resource-drop]error
func wasmIOErrorDrop(h uint32)

// to-debug-string: func() -> string, written at ret as (ptr, len).
//
//go:wasmimport wasi:io/error@0.2.12 [method]error.to-debug-string
func wasmIOErrorDebug(self, ret uint32)

//go:wasmimport wasi:io/poll@0.2.12 [method]pollable.block
func wasmPollableBlock(self uint32)

//go:wasmimport wasi:io/poll@0.2.12 [resource-drop]pollable
func wasmPollableDrop(h uint32)

// ---- wasi:clocks/monotonic-clock ----

//go:wasmimport wasi:clocks/monotonic-clock@0.2.12 subscribe-duration
func wasmSubscribeDuration(ns uint64) uint32

// hostSleep blocks on a monotonic-clock pollable: the component has no other way to wait
// without spinning (the Go scheduler only runs while the host is inside a call).
func hostSleep(d time.Duration) {
	p := wasmSubscribeDuration(uint64(d.Nanoseconds()))
	wasmPollableBlock(p)
	wasmPollableDrop(p)
}

// ---- one request ----

// ioBuf is a Go-heap return area; the Go heap does not move, so its address is stable while
// the slice is referenced (runtime.KeepAlive after the call).
type ioBuf struct {
	buf []byte
	p   uint32
}

func newRet(size, align uint32) ioBuf {
	b, p := allocBytes(size, align)
	return ioBuf{b, p}
}

func bytesArgs(b []byte) (uint32, uint32) {
	if len(b) == 0 {
		return 0, 0
	}
	return addr(unsafe.SliceData(b)), uint32(len(b))
}

// Cases of wasi:http's `method` variant, in WIT order (other(string) is 9).
var methodDisc = map[string]uint32{
	"GET": 0, "HEAD": 1, "POST": 2, "PUT": 3, "DELETE": 4, "CONNECT": 5, "OPTIONS": 6,
	"TRACE": 7, "PATCH": 8,
}

// hostHTTPAll sends every request before waiting for any response, so the host runs them
// concurrently (within the connector's max_concurrent_requests), then collects the responses
// in order. A request that could not start gets its error and no future.
func hostHTTPAll(reqs []outgoing) ([]*Response, []error) {
	resps := make([]*Response, len(reqs))
	errs := make([]error, len(reqs))
	futs := make([]uint32, len(reqs))
	for i, r := range reqs {
		futs[i], errs[i] = startRequest(r)
	}
	for i, r := range reqs {
		if errs[i] == nil {
			resps[i], errs[i] = finishRequest(futs[i], r.u)
		}
	}
	return resps, errs
}

// startRequest hands one request to the host and sends its body; the host is then fetching
// the response in the background.
func startRequest(r outgoing) (uint32, error) {
	fields, err := newFields(r.headers)
	if err != nil {
		return 0, err
	}
	req := wasmOutgoingRequestNew(fields) // takes ownership of fields
	if err := setRequestTarget(req, r.method, r.u); err != nil {
		wasmOutgoingRequestDrop(req)
		return 0, err
	}
	// The body handle must be taken before the request is handed over, even when empty, so
	// that a body can be finished (an empty one too: the host then knows the request is done).
	outBody, ok := takeHandle(wasmOutgoingRequestBody, req)
	if !ok {
		wasmOutgoingRequestDrop(req)
		return 0, InternalError("wasi:http: outgoing-request.body failed")
	}
	fut, err := handle(req, r.u)
	if err != nil {
		wasmOutgoingBodyDrop(outBody)
		return 0, err
	}
	if err := writeBody(outBody, r.body, r.u); err != nil {
		wasmFutureDrop(fut)
		return 0, err
	}
	return fut, nil
}

// finishRequest waits for the response of fut and reads it whole.
func finishRequest(fut uint32, u urlParts) (*Response, error) {
	resp, err := awaitResponse(fut, u)
	wasmFutureDrop(fut)
	if err != nil {
		return nil, err
	}
	defer wasmResponseDrop(resp)
	out := &Response{Status: int(wasmResponseStatus(resp))}
	h := wasmResponseHeaders(resp)
	out.Header = fieldEntries(h)
	wasmFieldsDrop(h) // a child of the response: dropped before it
	out.Body, err = readBody(resp, u)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func newFields(headers [][2]string) (uint32, error) {
	f := wasmFieldsNew()
	ret := newRet(2, 1)
	for _, kv := range headers {
		np, nn := strArgs(kv[0])
		vb := []byte(kv[1])
		vp, vn := bytesArgs(vb)
		wasmFieldsAppend(f, np, nn, vp, vn, ret.p)
		runtime.KeepAlive(kv[0])
		runtime.KeepAlive(vb)
		if load8(ret.p) != 0 {
			wasmFieldsDrop(f)
			// header-error: invalid-syntax, forbidden, immutable.
			return 0, Errorf(KindInternal, "header %q refused by wasi:http (header-error %d)", kv[0], load8(ret.p+1))
		}
	}
	runtime.KeepAlive(ret.buf)
	return f, nil
}

func setRequestTarget(req uint32, method string, u urlParts) error {
	disc, known := methodDisc[method]
	var mp, mn uint32
	if !known {
		disc = 9
		mp, mn = strArgs(method)
	}
	if wasmSetMethod(req, disc, mp, mn) != 0 {
		return Errorf(KindInternal, "wasi:http refused method %q", method)
	}
	runtime.KeepAlive(method)
	scheme := uint32(0) // HTTP
	if u.Scheme == "https" {
		scheme = 1
	}
	if wasmSetScheme(req, 1, scheme, 0, 0) != 0 {
		return Errorf(KindInternal, "wasi:http refused scheme %q", u.Scheme)
	}
	ap, an := strArgs(u.Authority)
	if wasmSetAuthority(req, 1, ap, an) != 0 {
		return Errorf(KindConfig, "wasi:http refused authority %q", u.Authority)
	}
	runtime.KeepAlive(u.Authority)
	pp, pn := strArgs(u.PathQuery)
	if wasmSetPathWithQuery(req, 1, pp, pn) != 0 {
		return Errorf(KindConfig, "wasi:http refused path %q", u.PathQuery)
	}
	runtime.KeepAlive(u.PathQuery)
	return nil
}

// takeHandle calls a `func(self) -> result<own<T>>` import; ok is false on its error case.
func takeHandle(f func(self, ret uint32), self uint32) (uint32, bool) {
	ret := newRet(8, 4)
	f(self, ret.p)
	ok := load8(ret.p) == 0
	h := load32(ret.p + 4)
	runtime.KeepAlive(ret.buf)
	return h, ok
}

func handle(req uint32, u urlParts) (uint32, error) {
	ret := newRet(40, 8)
	hostCall(0, func() { wasmHandle(req, 0, 0, ret.p) }) // error-code may hold strings: cabi_realloc
	defer runtime.KeepAlive(ret.buf)
	if load8(ret.p) != 0 {
		return 0, requestFailed(u, load8(ret.p+8))
	}
	return load32(ret.p + 8), nil
}

// Writes in chunks of at most 4096 bytes: blocking-write-and-flush accepts no more per call.
func writeBody(outBody uint32, body []byte, u urlParts) error {
	stream, ok := takeHandle(wasmOutgoingBodyWrite, outBody)
	if !ok {
		wasmOutgoingBodyDrop(outBody)
		return InternalError("wasi:http: outgoing-body.write failed")
	}
	ret := newRet(12, 4)
	for off := 0; off < len(body); off += 4096 {
		chunk := body[off:min(off+4096, len(body))]
		p, n := bytesArgs(chunk)
		wasmBlockingWriteAndFlush(stream, p, n, ret.p)
		if load8(ret.p) != 0 {
			msg := streamError(ret.p + 4)
			wasmOutputStreamDrop(stream)
			wasmOutgoingBodyDrop(outBody)
			return Errorf(KindNetwork, "writing the request body to %s failed: %s", u, msg)
		}
	}
	runtime.KeepAlive(body)
	runtime.KeepAlive(ret.buf)
	wasmOutputStreamDrop(stream) // a child of the body: dropped before finish
	fin := newRet(40, 8)
	hostCall(0, func() { wasmOutgoingBodyFinish(outBody, 0, 0, fin.p) })
	defer runtime.KeepAlive(fin.buf)
	if load8(fin.p) != 0 {
		return requestFailed(u, load8(fin.p+8))
	}
	return nil
}

func awaitResponse(fut uint32, u urlParts) (uint32, error) {
	pollable := wasmFutureSubscribe(fut)
	wasmPollableBlock(pollable)
	wasmPollableDrop(pollable)
	ret := newRet(56, 8)
	hostCall(0, func() { wasmFutureGet(fut, ret.p) })
	defer runtime.KeepAlive(ret.buf)
	switch {
	case load8(ret.p) == 0:
		return 0, Errorf(KindInternal, "wasi:http: no response for %s after the pollable was ready", u)
	case load8(ret.p+8) != 0:
		return 0, Errorf(KindInternal, "wasi:http: the response for %s was already taken", u)
	case load8(ret.p+16) != 0:
		return 0, requestFailed(u, load8(ret.p+24))
	}
	return load32(ret.p + 24), nil
}

func fieldEntries(h uint32) Header {
	ret := newRet(8, 4)
	hostCall(0, func() { wasmFieldsEntries(h, ret.p) })
	list, n := load32(ret.p), load32(ret.p+4)
	runtime.KeepAlive(ret.buf)
	out := Header{}
	for i := range n {
		e := list + i*16
		out.Add(liftString(load32(e), load32(e+4)), liftString(load32(e+8), load32(e+12)))
	}
	lifted()
	return out
}

const readChunk = 64 << 10

func readBody(resp uint32, u urlParts) ([]byte, error) {
	body, ok := takeHandle(wasmResponseConsume, resp)
	if !ok {
		return nil, Errorf(KindInternal, "wasi:http: the body of %s was already consumed", u)
	}
	defer wasmIncomingBodyDrop(body)
	stream, ok := takeHandle(wasmIncomingBodyStream, body)
	if !ok {
		return nil, Errorf(KindInternal, "wasi:http: no stream for the body of %s", u)
	}
	defer wasmInputStreamDrop(stream) // runs first: the stream is a child of the body
	var out []byte
	ret := newRet(12, 4)
	defer runtime.KeepAlive(ret.buf)
	for {
		hostCall(readChunk+16, func() { wasmBlockingRead(stream, readChunk, ret.p) })
		if load8(ret.p) != 0 {
			// closed (1) is the normal end of the body; last-operation-failed (0) broke it.
			if load8(ret.p+4) == 0 {
				return nil, Errorf(KindNetwork, "reading the body of %s failed: %s", u, streamError(ret.p+4))
			}
			return out, nil
		}
		p, n := load32(ret.p+4), load32(ret.p+8)
		if n > 0 {
			out = append(out, unsafe.Slice((*byte)(at(p)), n)...)
		}
		lifted()
	}
}

// streamError describes a stream-error at se and releases its io error resource (for
// last-operation-failed).
func streamError(se uint32) string {
	if load8(se) != 0 {
		return "stream closed"
	}
	h := load32(se + 4)
	ret := newRet(8, 4)
	hostCall(0, func() { wasmIOErrorDebug(h, ret.p) })
	msg := liftString(load32(ret.p), load32(ret.p+4))
	// wasmtime appends a host backtrace when RUST_BACKTRACE is set: keep the message.
	msg, _, _ = strings.Cut(msg, "\nStack backtrace:")
	runtime.KeepAlive(ret.buf)
	lifted()
	wasmIOErrorDrop(h)
	return msg
}

// errorCode names a wasi:http error-code case; the host's broker also logs the full reason
// (e.g. which grant to add), so the name is enough here.
type errorCode uint8

var errorCodeNames = [...]string{
	"DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",
	"destination-IP-prohibited", "destination-IP-unroutable", "connection-refused",
	"connection-terminated", "connection-timeout", "connection-read-timeout",
	"connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",
	"TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",
	"HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",
	"HTTP-request-URI-invalid", "HTTP-request-URI-too-long", "HTTP-request-header-section-size",
	"HTTP-request-header-size", "HTTP-request-trailer-section-size", "HTTP-request-trailer-size",
	"HTTP-response-incomplete", "HTTP-response-header-section-size", "HTTP-response-header-size",
	"HTTP-response-body-size", "HTTP-response-trailer-section-size", "HTTP-response-trailer-size",
	"HTTP-response-transfer-coding", "HTTP-response-content-coding", "HTTP-response-timeout",
	"HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error",
	"internal-error",
}

func (c errorCode) String() string {
	if int(c) < len(errorCodeNames) {
		return errorCodeNames[c]
	}
	return fmt.Sprintf("error-code %d", uint8(c))
}

// requestFailed makes a refused or failed request a network error. The host refuses an
// ungranted origin with HTTP-request-denied (its log names the grant to add), so say so.
func requestFailed(u urlParts, disc uint8) error {
	c := errorCode(disc)
	if c == 15 {
		return Errorf(KindNetwork, "request to %s: %w (HTTP-request-denied); is its origin declared in plugin.toml [permissions] http and granted in config.yml grants.http? The host's log names the grant to add", u, ErrRequestDenied)
	}
	return Errorf(KindNetwork, "request to %s failed: %s", u, c)
}
