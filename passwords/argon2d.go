package passwords

import (
	"encoding/binary"
	"math/bits"

	"golang.org/x/crypto/blake2b"
)

// Argon2d, version 0x13, after RFC 9106. golang.org/x/crypto/argon2 offers
// only argon2i and argon2id, and Auth0 imports accept $argon2d$ hashes too.
// This is a plain single-threaded implementation (lanes are computed one
// after the other, which gives the same result): it only ever verifies
// imported hashes once, before they are upgraded to argon2id. It computes
// argon2i and argon2id too so that tests can check it against x/crypto.

const (
	a2d  = 0
	a2i  = 1
	a2id = 2
)

type a2block [128]uint64

func argon2dKey(password, salt, secret, data []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	return argon2Generic(a2d, password, salt, secret, data, time, memory, uint32(threads), keyLen)
}

func argon2Generic(mode int, password, salt, secret, data []byte, passes, memory, lanes, keyLen uint32) []byte {
	// H0 over the parameters and inputs.
	h, _ := blake2b.New512(nil)
	le := func(v uint32) { h.Write(binary.LittleEndian.AppendUint32(nil, v)) }
	le(lanes)
	le(keyLen)
	le(memory)
	le(passes)
	le(0x13)
	le(uint32(mode))
	for _, in := range [][]byte{password, salt, secret, data} {
		le(uint32(len(in)))
		h.Write(in)
	}
	h0 := h.Sum(nil)

	// m' blocks: a multiple of 4·lanes, at least 8·lanes.
	mPrime := memory / (4 * lanes) * (4 * lanes)
	if mPrime < 8*lanes {
		mPrime = 8 * lanes
	}
	q := mPrime / lanes
	seg := q / 4
	B := make([]a2block, mPrime)
	var buf [1024]byte
	for l := uint32(0); l < lanes; l++ {
		for j := uint32(0); j < 2; j++ {
			in := append(append([]byte{}, h0...), binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, j), l)...)
			hashLong(buf[:], in)
			for k := range B[l*q+j] {
				B[l*q+j][k] = binary.LittleEndian.Uint64(buf[8*k:])
			}
		}
	}

	var zero, input, addr a2block
	for r := uint32(0); r < passes; r++ {
		for s := uint32(0); s < 4; s++ {
			for l := uint32(0); l < lanes; l++ {
				independent := mode == a2i || (mode == a2id && r == 0 && s < 2)
				if independent {
					input = a2block{}
					input[0], input[1], input[2], input[3], input[4], input[5] =
						uint64(r), uint64(l), uint64(s), uint64(mPrime), uint64(passes), uint64(mode)
				}
				start := uint32(0)
				if r == 0 && s == 0 {
					start = 2
					if independent {
						input[6]++
						compress(&addr, &zero, &input, false)
						compress(&addr, &zero, &addr, false)
					}
				}
				for idx := start; idx < seg; idx++ {
					col := s*seg + idx
					cur := l*q + col
					prev := cur - 1
					if col == 0 {
						prev = l*q + q - 1
					}
					var rnd uint64
					if independent {
						if idx%128 == 0 {
							input[6]++
							compress(&addr, &zero, &input, false)
							compress(&addr, &zero, &addr, false)
						}
						rnd = addr[idx%128]
					} else {
						rnd = B[prev][0]
					}
					j1, j2 := rnd&0xffffffff, rnd>>32
					refLane := uint32(j2 % uint64(lanes))
					if r == 0 && s == 0 {
						refLane = l
					}
					var area uint32
					switch {
					case r == 0 && refLane == l:
						area = s*seg + idx - 1
					case r == 0:
						area = s * seg
						if idx == 0 {
							area--
						}
					case refLane == l:
						area = q - seg + idx - 1
					default:
						area = q - seg
						if idx == 0 {
							area--
						}
					}
					x := (j1 * j1) >> 32
					y := (uint64(area) * x) >> 32
					rel := uint64(area) - 1 - y
					startPos := uint64(0)
					if r != 0 && s != 3 {
						startPos = uint64((s + 1) * seg)
					}
					ref := refLane*q + uint32((startPos+rel)%uint64(q))
					compress(&B[cur], &B[prev], &B[ref], r > 0)
				}
			}
		}
	}
	final := B[q-1]
	for l := uint32(1); l < lanes; l++ {
		for k := range final {
			final[k] ^= B[l*q+q-1][k]
		}
	}
	for k, v := range final {
		binary.LittleEndian.PutUint64(buf[8*k:], v)
	}
	out := make([]byte, keyLen)
	hashLong(out, buf[:])
	return out
}

// hashLong is Argon2's variable-length hash H'.
func hashLong(out, in []byte) {
	pre := binary.LittleEndian.AppendUint32(nil, uint32(len(out)))
	if len(out) <= 64 {
		h, _ := blake2b.New(len(out), nil)
		h.Write(pre)
		h.Write(in)
		h.Sum(out[:0])
		return
	}
	h, _ := blake2b.New512(nil)
	h.Write(pre)
	h.Write(in)
	v := h.Sum(nil)
	n := 0
	for {
		copy(out[n:], v[:32])
		n += 32
		if len(out)-n <= 64 {
			break
		}
		s := blake2b.Sum512(v)
		v = s[:]
	}
	h, _ = blake2b.New(len(out)-n, nil)
	h.Write(v)
	h.Sum(out[n:n])
}

// compress sets dst = G(x, y), or dst ^= G(x, y) when xor (passes after
// the first, version 0x13).
func compress(dst, x, y *a2block, xor bool) {
	var r, z a2block
	for i := range r {
		r[i] = x[i] ^ y[i]
	}
	z = r
	for i := 0; i < 8; i++ {
		v := z[16*i : 16*i+16]
		permute(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
			&v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15])
	}
	for i := 0; i < 8; i++ {
		c := 2 * i
		permute(&z[c], &z[c+1], &z[c+16], &z[c+17], &z[c+32], &z[c+33], &z[c+48], &z[c+49],
			&z[c+64], &z[c+65], &z[c+80], &z[c+81], &z[c+96], &z[c+97], &z[c+112], &z[c+113])
	}
	for i := range z {
		if xor {
			dst[i] ^= z[i] ^ r[i]
		} else {
			dst[i] = z[i] ^ r[i]
		}
	}
}

func permute(v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15 *uint64) {
	gb(v0, v4, v8, v12)
	gb(v1, v5, v9, v13)
	gb(v2, v6, v10, v14)
	gb(v3, v7, v11, v15)
	gb(v0, v5, v10, v15)
	gb(v1, v6, v11, v12)
	gb(v2, v7, v8, v13)
	gb(v3, v4, v9, v14)
}

func gb(a, b, c, d *uint64) {
	fm := func(x, y uint64) uint64 { return x + y + 2*(x&0xffffffff)*(y&0xffffffff) }
	*a = fm(*a, *b)
	*d = bits.RotateLeft64(*d^*a, -32)
	*c = fm(*c, *d)
	*b = bits.RotateLeft64(*b^*c, -24)
	*a = fm(*a, *b)
	*d = bits.RotateLeft64(*d^*a, -16)
	*c = fm(*c, *d)
	*b = bits.RotateLeft64(*b^*c, -63)
}
