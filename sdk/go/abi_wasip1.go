//go:build wasip1

package inlet

// Hand-written canonical-ABI glue for the inlet:connector@0.1.0 world (wit/connector.wit).
//
// Why by hand: wit-bindgen-go (go.bytecodealliance.org v0.7.0) generates bindings whose memory
// layouts assume 32-bit pointers (TinyGo, or a future GOARCH=wasm32). Big Go's GOARCH=wasm has
// 64-bit pointers, ints and string headers, and `go build` rejects the generated
// `//go:wasmexport` signatures ("unsupported result type *cm.Option[string]"). So this file
// reads and writes the canonical ABI's wasm32 layouts explicitly, with byte offsets, and passes
// every pointer as a uint32. The offsets are derived from the WIT by the canonical ABI's rules
// (record fields aligned in order; option/result/variant: u8 discriminant, payload at the
// payload's alignment) and are listed next to each type below. Keep them in step with the WIT.
//
// Memory: the Go heap is not moving, so a Go object's address is a stable linear-memory
// address while something references it. Memory the host writes into (export arguments,
// import results) comes from cabi_realloc: out of an arena that stays untouched until the next
// host window, or from the Go heap, kept in hostAllocs; either way until lifted (copied into Go
// values). What an export returns is kept in retKeep until the next export call, by which time
// the host has lifted it. The preview1 adapter gets its permanent blocks from
// cabi_realloc_adapter, out of a static array (see there).

import (
	"runtime"
	"unsafe"
)

const srcMod = "inlet:connector/source@0.1.0"

func at(a uint32) unsafe.Pointer { return unsafe.Add(nil, uintptr(a)) }
func load8(a uint32) uint8       { return *(*uint8)(at(a)) }
func load32(a uint32) uint32     { return *(*uint32)(at(a)) }
func store8(a uint32, v uint8)   { *(*uint8)(at(a)) = v }
func store32(a uint32, v uint32) { *(*uint32)(at(a)) = v }

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func addr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

// allocBytes returns a zeroed Go buffer and the address in it aligned to align.
func allocBytes(size, align uint32) ([]byte, uint32) {
	if align == 0 {
		align = 1
	}
	buf := make([]byte, size+align)
	p := (addr(unsafe.SliceData(buf)) + align - 1) &^ (align - 1)
	return buf, p
}

var (
	hostAllocs    [][]byte // cabi_realloc blocks not yet lifted
	adapterAllocs [][]byte // the preview1 adapter's blocks: kept for the instance's life
	retKeep       []any    // what the last export's results point into
)

func realloc(list *[][]byte, oldPtr, oldSize, align, newSize uint32) uint32 {
	buf, p := allocBytes(newSize, align)
	*list = append(*list, buf)
	if oldPtr != 0 && oldSize > 0 {
		n := min(oldSize, newSize)
		copy(unsafe.Slice((*byte)(at(p)), n), unsafe.Slice((*byte)(at(oldPtr)), n))
	}
	return p
}

// cabi_realloc serves the host from the window's arena (below); only a block that does not fit,
// or a resize, comes from the Go heap, kept in hostAllocs.
//
//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldSize, align, newSize uint32) uint32 {
	windowBytes += newSize + align
	if p, ok := arenaAlloc(oldPtr, align, newSize); ok {
		return p
	}
	return realloc(&hostAllocs, oldPtr, oldSize, align, newSize)
}

// While the host runs cabi_realloc it forbids the component to call any import ("cannot leave
// component instance"), and the Go runtime reads the clock (nanotime: clock_time_get, an import
// through the preview1 adapter) in more than one place a heap allocation can reach: gcStart, a
// GC assist, the scavenger when the heap grows. Any of them traps; seen with a configuration
// value of a few MB (export arguments), state.get in a loop and large HTTP bodies (import
// results), at points that move with the GC's timing.
//
// The host calls cabi_realloc only while it has control: before an export runs (to lower its
// arguments) and inside an import call (to lower its results). Those are the "host windows":
// leaveGuest opens one before control goes to the host (at the end of every export, and around
// each import whose results hold a string or a list: hostCall). In a window cabi_realloc bumps
// through an arena, a Go buffer allocated beforehand in guest time: as big as the largest
// window so far (at least arenaMin) and as the caller's bound for imports that have one
// (state.get, a read chunk), so that no allocation happens while the host has control.
//
// Only a window larger than all before it (e.g. a first configuration or advanced-rules value
// over arenaMin) falls back to the Go heap, where a GC may start and trap: that call fails as
// a trap (this sync only), and the next window's arena has the size it needed. Switching the GC
// off around windows was tried and dropped: toggling it per export made the heap grow with the
// sync's length (8 MiB → 65 MiB over 1M documents of loadgen-go).
var (
	arena       []byte // the window's arena (hostArena); nil outside a window
	arenaUsed   uint32
	hostArena   = make([]byte, arenaMin)
	windowBytes uint32 // what cabi_realloc was asked for in this window: the next arena's size
)

// arenaMin covers the export arguments of almost every connector (configuration, advanced
// rules, cursor) and every bounded import result.
const arenaMin = 1 << 20

// the first export's arguments come before any export runs.
func init() { leaveGuest(0) }

// leaveGuest opens a host window (see above) with an arena of at least need bytes.
func leaveGuest(need uint32) {
	need = max(need, windowBytes)
	if need > uint32(len(hostArena)) {
		hostArena = make([]byte, need+need/4)
	}
	arena, arenaUsed, windowBytes = hostArena, 0, 0
}

// enterGuest closes the window. The arena keeps what the host wrote until the next window
// opens; lifted() (or, for Go heap blocks, hostAllocs) covers the copying-out in between.
func enterGuest() { arena = nil }

// hostCall runs f, a call of an import whose results hold a string or a list, in a host
// window; need is a bound of their size if the WIT or the host gives one (else 0).
func hostCall(need uint32, f func()) {
	leaveGuest(need)
	defer enterGuest()
	f()
}

func arenaAlloc(oldPtr, align, size uint32) (uint32, bool) {
	if arena == nil || oldPtr != 0 {
		return 0, false
	}
	if align == 0 {
		align = 1
	}
	base := addr(unsafe.SliceData(arena))
	p := (base + arenaUsed + align - 1) &^ (align - 1)
	if p+size > base+uint32(len(arena)) {
		return 0, false
	}
	arenaUsed = p + size - base
	return p, true
}

// The preview1 adapter allocates its stack and state with cabi_realloc_adapter on its first
// WASI call, which the Go runtime makes while it is still initialising (schedinit reads the
// clock), before the Go heap exists. So this one must not allocate: it bumps through a static
// array (bss, so it costs nothing in the file). Only a request that does not fit (never seen:
// the adapter 48.0.8 takes 128 KiB: its stack and state) or a resize falls back to the Go heap.
const adapterArenaSize = 512 << 10

var (
	adapterArena [adapterArenaSize]byte
	adapterUsed  uint32
)

//go:wasmexport cabi_realloc_adapter
//go:nosplit
func cabiReallocAdapter(oldPtr, oldSize, align, newSize uint32) uint32 {
	base := uint32(uintptr(unsafe.Pointer(&adapterArena)))
	if align == 0 {
		align = 1
	}
	p := (base + adapterUsed + align - 1) &^ (align - 1)
	if p+newSize <= base+adapterArenaSize && oldPtr == 0 {
		adapterUsed = p + newSize - base
		return p
	}
	return realloc(&adapterAllocs, oldPtr, oldSize, align, newSize)
}

// ---- lifting (host → Go); copies, so hostAllocs can be dropped afterwards ----

func liftString(p, n uint32) string {
	if n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(at(p)), n))
}

func liftOptString(disc, p, n uint32) *string {
	if disc == 0 {
		return nil
	}
	s := liftString(p, n)
	return &s
}

// list<config-value>; config-value = {key: string @0, value: string @8}, size 16.
func liftConfig(p, n uint32) [][2]string {
	out := make([][2]string, n)
	for i := range n {
		e := p + i*16
		out[i] = [2]string{liftString(load32(e), load32(e+4)), liftString(load32(e+8), load32(e+12))}
	}
	return out
}

func lifted() { hostAllocs = nil }

// ---- lowering (Go → host); the memory stays referenced from retKeep ----

// beginExport drops what the previous export returned (the host has lifted it by now) and
// closes the host window (enterGuest). The arguments of this call stay in hostAllocs until lifted()
// after lifting. Every export defers endExport, so that the host, which may call cabi_realloc
// for the next export's arguments, gets control back in a host window.
func beginExport() {
	enterGuest()
	retKeep = nil
}

// endExport, deferred by every export, opens the host window of the next export's arguments.
func endExport() { leaveGuest(0) }

func retArea(size uint32) uint32 {
	buf, p := allocBytes(size, 4)
	retKeep = append(retKeep, buf)
	return p
}

func storeString(a uint32, s string) {
	if len(s) == 0 {
		store32(a, 0)
		store32(a+4, 0)
		return
	}
	retKeep = append(retKeep, s)
	store32(a, addr(unsafe.StringData(s)))
	store32(a+4, uint32(len(s)))
}

func storeBytes(a uint32, b []byte) {
	if len(b) == 0 {
		store32(a, 0)
		store32(a+4, 0)
		return
	}
	retKeep = append(retKeep, b)
	store32(a, addr(unsafe.SliceData(b)))
	store32(a+4, uint32(len(b)))
}

// option<string>: disc u8 @0, string @4; size 12.
func storeOptString(a uint32, s string, ok bool) {
	store8(a, b2u(ok))
	if ok {
		storeString(a+4, s)
	}
}

// list<{string, string}> (config-value, dependency, validation, select-option; size 16).
func storePairs(a uint32, pairs [][2]string) {
	var arr uint32
	if len(pairs) > 0 {
		arr = retArea(uint32(len(pairs)) * 16)
	}
	for i, kv := range pairs {
		e := arr + uint32(i)*16
		storeString(e, kv[0])
		storeString(e+8, kv[1])
	}
	store32(a, arr)
	store32(a+4, uint32(len(pairs)))
}

// list<string>: elements of size 8.
func storeStrings(a uint32, ss []string) {
	var arr uint32
	if len(ss) > 0 {
		arr = retArea(uint32(len(ss)) * 8)
	}
	for i, s := range ss {
		storeString(arr+uint32(i)*8, s)
	}
	store32(a, arr)
	store32(a+4, uint32(len(ss)))
}

// result<_, connector-error> / result<T, connector-error>: disc u8 @0, payload @4; size 16.
// connector-error = {kind: error-kind u8 @0, message: string @4}; at r+4 that is kind @4,
// message @8.
func storeErr(r uint32, err *Error) {
	store8(r, 1)
	store8(r+4, uint8(err.Kind))
	storeString(r+8, err.Message)
}

// ---- exports of interface inlet:connector/source@0.1.0 ----

// metadata: func() -> metadata. metadata = {service-type @0, name @8, version @16 (strings),
// features @24 = 4 bools (incremental-sync, document-level-security, advanced-rules,
// basic-rules)}; size 28.
//
//go:wasmexport inlet:connector/source@0.1.0#metadata
func exportMetadata() uint32 {
	beginExport()
	defer endExport()
	m := doMetadata()
	r := retArea(28)
	storeString(r, m.ServiceType)
	storeString(r+8, m.Name)
	storeString(r+16, m.Version)
	f := m.Features
	store8(r+24, b2u(f.IncrementalSync))
	store8(r+25, b2u(f.DocumentLevelSecurity))
	store8(r+26, b2u(f.AdvancedRules))
	store8(r+27, b2u(f.BasicRules))
	return r
}

// configuration-schema: func() -> list<config-field>. config-field (size 84):
// key @0, label @8, order u32 @16, type u8 @20, display u8 @21, default-value option<string>
// @24, required @36, sensitive @37, tooltip option<string> @40, depends-on list @52,
// validations list @60, ui-restrictions list<string> @68, options list @76.
//
//go:wasmexport inlet:connector/source@0.1.0#configuration-schema
func exportConfigurationSchema() uint32 {
	beginExport()
	defer endExport()
	fields := doSchema()
	var arr uint32
	if len(fields) > 0 {
		arr = retArea(uint32(len(fields)) * 84)
	}
	for i, f := range fields {
		e := arr + uint32(i)*84
		storeString(e, f.Key)
		storeString(e+8, f.Label)
		store32(e+16, f.Order)
		store8(e+20, uint8(f.Type))
		store8(e+21, uint8(f.Display))
		if f.DefaultValue != nil {
			storeOptString(e+24, *f.DefaultValue, true)
		}
		store8(e+36, b2u(f.Required))
		store8(e+37, b2u(f.Sensitive))
		if f.Tooltip != nil {
			storeOptString(e+40, *f.Tooltip, true)
		}
		deps := make([][2]string, len(f.DependsOn))
		for j, d := range f.DependsOn {
			deps[j] = [2]string{d.Field, d.Value}
		}
		storePairs(e+52, deps)
		vals := make([][2]string, len(f.Validations))
		for j, v := range f.Validations {
			vals[j] = [2]string{v.Type, v.Constraint}
		}
		storePairs(e+60, vals)
		storeStrings(e+68, f.UIRestrictions)
		opts := make([][2]string, len(f.Options))
		for j, o := range f.Options {
			opts[j] = [2]string{o.Label, o.Value}
		}
		storePairs(e+76, opts)
	}
	r := retArea(8)
	store32(r, arr)
	store32(r+4, uint32(len(fields)))
	return r
}

func unitResult(err *Error) uint32 {
	r := retArea(16)
	if err != nil {
		storeErr(r, err)
	}
	return r
}

//go:wasmexport inlet:connector/source@0.1.0#validate-config
func exportValidateConfig(cfgPtr, cfgLen uint32) uint32 {
	beginExport()
	defer endExport()
	cfg := liftConfig(cfgPtr, cfgLen)
	lifted()
	return unitResult(doValidateConfig(cfg))
}

//go:wasmexport inlet:connector/source@0.1.0#ping
func exportPing(cfgPtr, cfgLen uint32) uint32 {
	beginExport()
	defer endExport()
	cfg := liftConfig(cfgPtr, cfgLen)
	lifted()
	return unitResult(doPing(cfg))
}

// -> result<rules-validation, connector-error>; rules-validation = {valid bool @0,
// messages list<string> @4}, so at r+4: valid @4, messages @8.
//
//go:wasmexport inlet:connector/source@0.1.0#validate-advanced-rules
func exportValidateAdvancedRules(cfgPtr, cfgLen, rulesPtr, rulesLen uint32) uint32 {
	beginExport()
	defer endExport()
	cfg := liftConfig(cfgPtr, cfgLen)
	rules := liftString(rulesPtr, rulesLen)
	lifted()
	v, err := doValidateRules(cfg, rules)
	r := retArea(16)
	if err != nil {
		storeErr(r, err)
		return r
	}
	store8(r+4, b2u(v.Valid))
	storeStrings(r+8, v.Messages)
	return r
}

//go:wasmimport [export]inlet:connector/source@0.1.0 [resource-new]sync
func syncResourceNew(rep uint32) uint32

// sync-request is flattened to 8 i32s: configuration (ptr, len), advanced-rules
// option<string> (disc, ptr, len), cursor option<string> (disc, ptr, len).
// -> result<own<sync>, connector-error>: the handle at r+4.
func startSyncExport(kind syncKind, cp, cn, ad, ap, an, cd, cpp, cpn uint32) uint32 {
	beginExport()
	defer endExport()
	cfg := liftConfig(cp, cn)
	rules := liftOptString(ad, ap, an)
	cursor := liftOptString(cd, cpp, cpn)
	lifted()
	rep, err := doSync(kind, cfg, rules, cursor)
	r := retArea(16)
	if err != nil {
		storeErr(r, err)
		return r
	}
	store32(r+4, syncResourceNew(rep))
	return r
}

//go:wasmexport inlet:connector/source@0.1.0#full-sync
func exportFullSync(cp, cn, ad, ap, an, cd, cpp, cpn uint32) uint32 {
	return startSyncExport(kindFull, cp, cn, ad, ap, an, cd, cpp, cpn)
}

//go:wasmexport inlet:connector/source@0.1.0#incremental-sync
func exportIncrementalSync(cp, cn, ad, ap, an, cd, cpp, cpn uint32) uint32 {
	return startSyncExport(kindIncremental, cp, cn, ad, ap, an, cd, cpp, cpn)
}

//go:wasmexport inlet:connector/source@0.1.0#access-control-sync
func exportAccessControlSync(cp, cn, ad, ap, an, cd, cpp, cpn uint32) uint32 {
	return startSyncExport(kindAccessControl, cp, cn, ad, ap, an, cd, cpp, cpn)
}

// [method]sync.next-batch: func(self: borrow<sync>) -> result<option<list<document>>,
// connector-error>. A borrow of our own resource arrives as its rep. At r+4 the option's disc,
// at r+8 the list (ptr, len). document (size 48): id @0, timestamp option<string> @8,
// body @20, op u8 @28, attachment option<attachment> @32 (disc @32; attachment variant:
// disc @36 (0 bytes, 1 text), list<u8>/string @40).
//
//go:wasmexport inlet:connector/source@0.1.0#[method]sync.next-batch
func exportNextBatch(rep uint32) uint32 {
	beginExport()
	defer endExport()
	batch, err := doNextBatch(rep)
	r := retArea(16)
	if err != nil {
		storeErr(r, err)
		return r
	}
	if batch == nil {
		return r // ok(none)
	}
	store8(r+4, 1)
	arr := retArea(uint32(len(batch)) * 48)
	retKeep = append(retKeep, batch)
	for i := range batch {
		d := &batch[i]
		e := arr + uint32(i)*48
		storeString(e, d.ID)
		storeOptString(e+8, d.Timestamp, d.Timestamp != "")
		storeString(e+20, d.Body)
		store8(e+28, uint8(d.Op))
		if a := d.Attachment; a != nil {
			store8(e+32, 1)
			if a.IsText {
				store8(e+36, 1)
				storeString(e+40, a.Text)
			} else {
				storeBytes(e+40, a.Bytes)
			}
		}
	}
	store32(r+8, arr)
	store32(r+12, uint32(len(batch)))
	return r
}

// [method]sync.cursor: func(self: borrow<sync>) -> option<string> (size 12).
//
//go:wasmexport inlet:connector/source@0.1.0#[method]sync.cursor
func exportCursor(rep uint32) uint32 {
	beginExport()
	defer endExport()
	c, ok := doCursor(rep)
	r := retArea(12)
	storeOptString(r, c, ok)
	return r
}

//go:wasmexport inlet:connector/source@0.1.0#[dtor]sync
func exportSyncDtor(rep uint32) {
	enterGuest()
	defer endExport()
	doDrop(rep)
}

// ---- imports: inlet:connector/log@0.1.0 and inlet:connector/state@0.1.0 ----

//go:wasmimport inlet:connector/log@0.1.0 log
func wasmLog(level, msgPtr, msgLen uint32)

func strArgs(s string) (uint32, uint32) {
	if len(s) == 0 {
		return 0, 0
	}
	return addr(unsafe.StringData(s)), uint32(len(s))
}

func hostLog(level Level, message string) {
	p, n := strArgs(message)
	wasmLog(uint32(level), p, n)
	runtime.KeepAlive(message)
}

//go:wasmimport inlet:connector/state@0.1.0 get
func wasmStateGet(keyPtr, keyLen, ret uint32)

//go:wasmimport inlet:connector/state@0.1.0 set
func wasmStateSet(keyPtr, keyLen, valPtr, valLen, ret uint32)

//go:wasmimport inlet:connector/state@0.1.0 delete
func wasmStateDelete(keyPtr, keyLen uint32)

// get -> option<string>, written by the host at ret (size 12); the string's bytes come from
// cabi_realloc.
const maxStateValue = 64 << 10 // the host's limit on a state value
func hostStateGet(key string) (string, bool) {
	buf, ret := allocBytes(12, 4)
	kp, kn := strArgs(key)
	hostCall(maxStateValue+1, func() { wasmStateGet(kp, kn, ret) })
	runtime.KeepAlive(key)
	var v string
	ok := load8(ret) != 0
	if ok {
		v = liftString(load32(ret+4), load32(ret+8))
	}
	runtime.KeepAlive(buf)
	lifted()
	return v, ok
}

// set -> result<_, connector-error> at ret (size 16).
func hostStateSet(key, value string) *Error {
	buf, ret := allocBytes(16, 4)
	kp, kn := strArgs(key)
	vp, vn := strArgs(value)
	hostCall(0, func() { wasmStateSet(kp, kn, vp, vn, ret) }) // an error's message: cabi_realloc
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	var err *Error
	if load8(ret) != 0 {
		err = &Error{Kind: ErrorKind(load8(ret + 4)), Message: liftString(load32(ret+8), load32(ret+12))}
	}
	runtime.KeepAlive(buf)
	lifted()
	return err
}

func hostStateDelete(key string) {
	kp, kn := strArgs(key)
	wasmStateDelete(kp, kn)
	runtime.KeepAlive(key)
}
