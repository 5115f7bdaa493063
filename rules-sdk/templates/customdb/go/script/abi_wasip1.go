//go:build wasip1

package script

import "unsafe"

var inBuf, outBuf []byte

//go:wasmexport idp_abi_version
func idpABIVersion() int32 { return 1 }

//go:wasmexport idp_alloc
func idpAlloc(size uint32) uint32 {
	inBuf = make([]byte, max(size, 1))
	return uint32(uintptr(unsafe.Pointer(&inBuf[0])))
}

//go:wasmexport on_script
func onScript(ptr, size uint32) uint64 {
	var in []byte
	if len(inBuf) > 0 && uint32(uintptr(unsafe.Pointer(&inBuf[0]))) == ptr && int(size) <= len(inBuf) {
		in = inBuf[:size]
	}
	outBuf = dispatch(in)
	return uint64(uintptr(unsafe.Pointer(&outBuf[0])))<<32 | uint64(len(outBuf))
}

//go:wasmimport idp log
func idpLog(ptr unsafe.Pointer, size uint32)

//go:wasmimport idp db_query
func idpDBQuery(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp db_exec
func idpDBExec(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp bcrypt_verify
func idpBcryptVerify(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp bcrypt_hash
func idpBcryptHash(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp pbkdf2_verify
func idpPBKDF2Verify(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp argon2_verify
func idpArgon2Verify(ptr unsafe.Pointer, size uint32) uint64

//go:wasmimport idp host_result
func idpHostResult(ptr unsafe.Pointer, size uint32) uint32

func via(f func(unsafe.Pointer, uint32) uint64) func([]byte) []byte {
	return func(req []byte) []byte {
		n := f(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
		if n == 0 {
			return nil
		}
		buf := make([]byte, n)
		got := idpHostResult(unsafe.Pointer(&buf[0]), uint32(n))
		return buf[:got]
	}
}

var (
	hostDBQuery      = via(idpDBQuery)
	hostDBExec       = via(idpDBExec)
	hostBcryptVerify = via(idpBcryptVerify)
	hostBcryptHash   = via(idpBcryptHash)
	hostPBKDF2Verify = via(idpPBKDF2Verify)
	hostArgon2Verify = via(idpArgon2Verify)
)

func hostLog(msg string) {
	if msg != "" {
		idpLog(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
	}
}
