//go:build wasip1

package rules

import "unsafe"

// The host calls idp_alloc, copies the event in, then calls on_post_login.
// Both buffers live in package variables so that the Go garbage collector
// keeps them alive between the host's calls, and are reused from call to
// call (the decoded event copies what it keeps out of inBuf).
var (
	inBuf  []byte
	outBuf []byte
)

//go:wasmexport idp_abi_version
func idpABIVersion() int32 { return ABIVersion }

//go:wasmexport idp_alloc
func idpAlloc(size uint32) uint32 {
	if n := max(size, 1); uint32(cap(inBuf)) >= n && cap(inBuf) <= 64<<10 {
		inBuf = inBuf[:n]
	} else {
		inBuf = make([]byte, n)
	}
	return uint32(uintptr(unsafe.Pointer(&inBuf[0])))
}

//go:wasmexport on_post_login
func onPostLogin(ptr, size uint32) uint64 {
	var event []byte
	if len(inBuf) > 0 && uint32(uintptr(unsafe.Pointer(&inBuf[0]))) == ptr && int(size) <= len(inBuf) {
		event = inBuf[:size]
	}
	if cap(outBuf) > 256<<10 {
		outBuf = nil // do not keep a huge result's buffer for ever
	}
	outBuf = appendProcess(outBuf[:0], event) // nil event decodes as an error result
	if len(outBuf) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&outBuf[0])))<<32 | uint64(len(outBuf))
}

//go:wasmimport idp log
func idpLog(ptr unsafe.Pointer, size uint32)

func hostLog(msg string) {
	if msg == "" {
		return
	}
	idpLog(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}
