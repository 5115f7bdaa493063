package rules

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Deadline enforcement by fuel (see RATIONALE.md, "Time limit").
//
// wazero v1.12 has no metering, and its WithCloseOnContextDone costs a call
// into Go at every loop header (about 40 ns) and checks only loop headers,
// so loop-free exponential recursion escapes it. Instead, before compiling,
// the host rewrites every module:
//
//   - a mutable i64 global, the fuel, is appended to the global section;
//   - one function, idp.__refuel () -> i64, is appended to the imports;
//     rules cannot import it themselves (instrument refuses a module that
//     does), and every later function index moves up by one;
//   - every "region" starts with a charge: at each function entry and right
//     after each loop header the region's static cost (its instructions
//     outside nested loops, 1 unit each) is subtracted from the fuel, and
//     when the fuel is <= 0 the host's __refuel checks the wall clock: it
//     traps past the deadline or returns a fresh tank (fuelRefill units).
//     Instructions outside loops run at most once per function activation
//     and those of a loop body at most once per iteration, so the charges
//     bound every instruction executed: at most about fuelRefill units
//     run between two clock checks, whatever the code does;
//   - functions that call nothing ("leaves") and whose address is never
//     taken have no entry charge: their cost is added to each direct call
//     site instead (their loops still charge per iteration);
//   - bulk memory and table operations (memory.copy/fill/init, table.*)
//     charge their length at run time (1 unit per 16 bytes or elements);
//   - a call to an imported (host) function, and a call_indirect when a
//     table may hold one, is preceded by an unconditional __refuel call:
//     a host function's time does not depend on wasm instructions.
//
// The common path is a handful of wasm instructions per region and no call
// into Go; the host is entered once per fuelRefill units of work.

// fuelRefill is the fuel __refuel returns. One unit is one wasm instruction
// of the region charged, 0.3–1 ns when it runs from cache and about 100 ns
// for a chain of dependent loads that miss every cache, so 100k units are
// 30 µs to 10 ms between two clock checks. Charges are static (a region is
// charged for all its instructions, taken branches or not), so real code
// runs several times fewer instructions than it is charged for; a check
// costs 50–100 ns (a host call and a clock read).
const fuelRefill = 100_000

// Internal import added by instrument.
const (
	refuelModule = nsIDP
	refuelName   = "__refuel"
)

var errMalformed = errors.New("malformed module")

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElem      = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionRank is the required order of known sections.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElem: 10, secDataCount: 11, secCode: 12, secData: 13,
}

type section struct {
	id      byte
	payload []byte
}

// instrumenter holds what the rewrite needs to know about the module.
type instrumenter struct {
	types       [][2]int // param and result counts per type
	funcTypes   []uint32 // type index per defined function
	nImportFn   uint32   // imported functions (indices below are imports)
	nGlobals    uint32   // imported + defined globals of the original
	nTypes      uint32
	fuelGlobal  uint32
	refuelFn    uint32 // index of __refuel in the new index space
	refuelType  uint32
	hostInTable bool        // a table may hold an imported function
	addrTaken   []bool      // per defined function: in a table or ref.func
	leafCost    []int64     // per defined function: entry cost if a leaf, else -1
	bodies      [][]byte    // defined function bodies (with locals)
	out         []byte      // scratch for one body
	ctl         []byte      // control stack of one body (block kinds)
	regions     []regionAcc // open charge regions of one body
}

type regionAcc struct {
	cost  int64
	patch int // offset of the padded cost immediate in out, -1 for none
}

// instrument returns module rewritten with fuel checks. A module that is
// not well-formed enough to rewrite, or that imports the internal function,
// is refused; everything else is left to wazero's validation.
func instrument(module []byte) ([]byte, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: no wasm header", errMalformed)
	}
	if v := binary.LittleEndian.Uint32(module[4:8]); v != 1 {
		return nil, fmt.Errorf("%w: binary format version %d, want 1", errMalformed, v)
	}
	var secs []section
	r := module[8:]
	lastRank := 0
	for len(r) > 0 {
		id := r[0]
		size, n, err := readU32(r[1:])
		if err != nil || uint64(1+n)+uint64(size) > uint64(len(r)) {
			return nil, fmt.Errorf("%w: section %d: bad size", errMalformed, id)
		}
		if id != secCustom {
			rank, ok := sectionRank[id]
			if !ok || rank <= lastRank {
				return nil, fmt.Errorf("%w: section %d unknown, repeated or out of order", errMalformed, id)
			}
			lastRank = rank
		}
		secs = append(secs, section{id, r[1+n : 1+n+int(size)]})
		r = r[1+n+int(size):]
	}
	ins := &instrumenter{}
	if err := ins.scan(secs); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(module)+len(module)/4+1024)
	out = append(out, module[:8]...)
	added := map[byte]bool{}
	emit := func(id byte, p []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	// Sections the rewrite must produce even if the module has none.
	needed := []byte{secType, secImport, secGlobal}
	emitMissingBefore := func(rank int) error {
		for _, id := range needed {
			if !added[id] && sectionRank[id] < rank {
				p, err := ins.rewrite(id, nil)
				if err != nil {
					return err
				}
				emit(id, p)
				added[id] = true
			}
		}
		return nil
	}
	for _, s := range secs {
		if s.id != secCustom {
			if err := emitMissingBefore(sectionRank[s.id]); err != nil {
				return nil, err
			}
			added[s.id] = true
		}
		p, err := ins.rewrite(s.id, s)
		if err != nil {
			return nil, err
		}
		if p != nil {
			emit(s.id, p)
		}
	}
	if err := emitMissingBefore(1 << 30); err != nil {
		return nil, err
	}
	return out, nil
}

// scan reads the sections the rewrite depends on.
func (ins *instrumenter) scan(secs []section) error {
	var defined uint32
	for _, s := range secs {
		p := s.payload
		var err error
		switch s.id {
		case secType:
			err = ins.scanTypes(p)
		case secImport:
			err = ins.scanImports(p)
		case secFunction:
			ins.funcTypes, err = readU32Vec(p)
		case secGlobal:
			defined, _, err = readU32(p)
		case secCode:
			err = ins.scanCode(p)
		}
		if err != nil {
			return wrapMalformed(err, "section %d", s.id)
		}
	}
	if len(ins.bodies) != len(ins.funcTypes) {
		return fmt.Errorf("%w: %d function types for %d bodies", errMalformed, len(ins.funcTypes), len(ins.bodies))
	}
	ins.nGlobals += defined
	ins.fuelGlobal = ins.nGlobals
	ins.refuelFn = ins.nImportFn
	ins.refuelType = ins.nTypes
	ins.addrTaken = make([]bool, len(ins.bodies))
	// Element and global sections come before the code: mark functions
	// whose address is taken there, then classify bodies.
	for _, s := range secs {
		var err error
		switch s.id {
		case secElem:
			_, err = ins.rewriteElem(s.payload)
		case secGlobal:
			_, err = ins.rewriteGlobals(s.payload)
		case secExport:
			// Exported functions are called by the host: no leaf shortcut.
			err = ins.markExports(s.payload)
		case secStart:
			var idx uint32
			if idx, _, err = readU32(s.payload); err == nil && idx >= ins.nImportFn {
				ins.markAddr(idx)
			}
		}
		if err != nil {
			return wrapMalformed(err, "section %d", s.id)
		}
	}
	ins.leafCost = make([]int64, len(ins.bodies))
	for i, b := range ins.bodies {
		c, err := ins.classify(b)
		if err != nil {
			return wrapMalformed(err, "function %d", int(ins.nImportFn)+i)
		}
		ins.leafCost[i] = c
	}
	return nil
}

// wrapMalformed reports err as a malformed module, unless it already is a
// validation error with its own kind (a forbidden import).
func wrapMalformed(err error, format string, args ...any) error {
	if errors.Is(err, ErrInvalidModule) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", errMalformed, fmt.Sprintf(format, args...), err)
}

func (ins *instrumenter) scanTypes(p []byte) error {
	n, off, err := readU32(p)
	if err != nil {
		return err
	}
	ins.nTypes = n
	for range n {
		if off >= len(p) || p[off] != 0x60 {
			return errors.New("only function types are supported")
		}
		off++
		var counts [2]int
		for k := range 2 {
			c, m, err := readU32(p[off:])
			if err != nil || off+m+int(c) > len(p) {
				return errors.New("bad function type")
			}
			counts[k] = int(c)
			off += m + int(c) // one byte per value type in core 2.0
		}
		ins.types = append(ins.types, counts)
	}
	return nil
}

func (ins *instrumenter) scanImports(p []byte) error {
	return eachImport(p, func(mod, name string, kind byte, desc []byte) error {
		switch kind {
		case 0:
			if mod == refuelModule && name == refuelName {
				return invalid(ErrForbiddenImport, "%s.%s is internal to the host", mod, name)
			}
			ins.nImportFn++
		case 3:
			ins.nGlobals++
		}
		return nil
	})
}

// eachImport walks an import section; desc is the raw import description.
func eachImport(p []byte, f func(mod, name string, kind byte, desc []byte) error) error {
	n, off, err := readU32(p)
	if err != nil {
		return err
	}
	for range n {
		var names [2]string
		for k := range 2 {
			l, m, err := readU32(p[off:])
			if err != nil || off+m+int(l) > len(p) {
				return errors.New("bad import name")
			}
			names[k] = string(p[off+m : off+m+int(l)])
			off += m + int(l)
		}
		if off >= len(p) {
			return errors.New("truncated import")
		}
		kind := p[off]
		start := off + 1
		end := start
		switch kind {
		case 0: // function: type index
			_, m, err := readU32(p[end:])
			if err != nil {
				return err
			}
			end += m
		case 1: // table: reftype, limits
			if end >= len(p) {
				return errors.New("truncated table import")
			}
			m, err := limitsLen(p[end+1:])
			if err != nil {
				return err
			}
			end += 1 + m
		case 2: // memory: limits
			m, err := limitsLen(p[end:])
			if err != nil {
				return err
			}
			end += m
		case 3: // global: valtype, mutability
			end += 2
		default:
			return fmt.Errorf("import kind %d", kind)
		}
		if end > len(p) {
			return errors.New("truncated import")
		}
		if err := f(names[0], names[1], kind, p[start:end]); err != nil {
			return err
		}
		off = end
	}
	if off != len(p) {
		return errors.New("trailing bytes")
	}
	return nil
}

func limitsLen(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, errors.New("truncated limits")
	}
	flag := p[0]
	off := 1
	_, m, err := readU32(p[off:])
	if err != nil {
		return 0, err
	}
	off += m
	if flag&1 != 0 {
		_, m, err = readU32(p[off:])
		if err != nil {
			return 0, err
		}
		off += m
	}
	return off, nil
}

func (ins *instrumenter) scanCode(p []byte) error {
	n, off, err := readU32(p)
	if err != nil {
		return err
	}
	for i := range n {
		size, m, err := readU32(p[off:])
		if err != nil || off+m+int(size) > len(p) {
			return fmt.Errorf("function body %d: bad size", i)
		}
		ins.bodies = append(ins.bodies, p[off+m:off+m+int(size)])
		off += m + int(size)
	}
	if off != len(p) {
		return errors.New("trailing bytes")
	}
	return nil
}

func (ins *instrumenter) markAddr(idx uint32) {
	if idx < ins.nImportFn {
		ins.hostInTable = true
		return
	}
	if i := idx - ins.nImportFn; i < uint32(len(ins.addrTaken)) {
		ins.addrTaken[i] = true
	}
}

func (ins *instrumenter) markExports(p []byte) error {
	_, err := ins.rewriteExports(p)
	return err
}

// shiftFn maps an original function index to the instrumented module's.
func (ins *instrumenter) shiftFn(idx uint32) uint32 {
	if idx >= ins.nImportFn {
		return idx + 1
	}
	return idx
}

// rewrite returns the new payload of a section; s is nil for a section the
// module lacks. A nil result drops the section.
func (ins *instrumenter) rewrite(id byte, s any) ([]byte, error) {
	var p []byte
	if sec, ok := s.(section); ok {
		p = sec.payload
	}
	wrap := func(b []byte, err error) ([]byte, error) {
		if err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", errMalformed, id, err)
		}
		return b, nil
	}
	switch id {
	case secType:
		// Append () -> i64, the type of __refuel.
		return appendVecItem(p, []byte{0x60, 0x00, 0x01, 0x7e})
	case secImport:
		item := appendName(nil, refuelModule)
		item = appendName(item, refuelName)
		item = append(item, 0x00)
		item = binary.AppendUvarint(item, uint64(ins.refuelType))
		return appendVecItem(p, item)
	case secGlobal:
		if p != nil {
			var err error
			if p, err = wrap(ins.rewriteGlobals(p)); err != nil {
				return nil, err
			}
		}
		item := []byte{0x7e, 0x01, 0x42} // i64, mutable, i64.const
		item = appendSLEB(item, fuelRefill)
		item = append(item, 0x0b)
		return appendVecItem(p, item)
	case secExport:
		return wrap(ins.rewriteExports(p))
	case secStart:
		idx, _, err := readU32(p)
		if err != nil {
			return wrap(nil, err)
		}
		return binary.AppendUvarint(nil, uint64(ins.shiftFn(idx))), nil
	case secElem:
		return wrap(ins.rewriteElem(p))
	case secCode:
		return ins.rewriteCode()
	case secCustom:
		return ins.rewriteCustom(p), nil
	}
	return p, nil
}

func appendVecItem(vec, item []byte) ([]byte, error) {
	var n uint32
	var rest []byte
	if vec != nil {
		c, m, err := readU32(vec)
		if err != nil {
			return nil, fmt.Errorf("%w: bad vector", errMalformed)
		}
		n, rest = c, vec[m:]
	}
	out := binary.AppendUvarint(make([]byte, 0, len(vec)+len(item)+5), uint64(n+1))
	out = append(out, rest...)
	return append(out, item...), nil
}

func appendName(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (ins *instrumenter) rewriteExports(p []byte) ([]byte, error) {
	n, off, err := readU32(p)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), p[:off]...)
	for range n {
		l, m, err := readU32(p[off:])
		if err != nil || off+m+int(l)+1 > len(p) {
			return nil, errors.New("bad export")
		}
		out = append(out, p[off:off+m+int(l)+1]...)
		kind := p[off+m+int(l)]
		off += m + int(l) + 1
		idx, m, err := readU32(p[off:])
		if err != nil {
			return nil, err
		}
		off += m
		if kind == 0 {
			if idx >= ins.nImportFn { // re-exported imports are not in tables
				ins.markAddr(idx)
			}
			idx = ins.shiftFn(idx)
		}
		out = binary.AppendUvarint(out, uint64(idx))
	}
	if off != len(p) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

func (ins *instrumenter) rewriteGlobals(p []byte) ([]byte, error) {
	n, off, err := readU32(p)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), p[:off]...)
	for range n {
		if off+2 > len(p) {
			return nil, errors.New("truncated global")
		}
		out = append(out, p[off:off+2]...) // valtype, mutability
		off += 2
		if out, off, err = ins.constExpr(out, p, off); err != nil {
			return nil, err
		}
	}
	if off != len(p) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// constExpr copies a constant expression, shifting ref.func and checking
// global.get against the original globals.
func (ins *instrumenter) constExpr(out, p []byte, off int) ([]byte, int, error) {
	for off < len(p) {
		op := p[off]
		off++
		out = append(out, op)
		switch op {
		case 0x0b:
			return out, off, nil
		case 0x41, 0x42: // i32.const, i64.const
			m, err := lebLen(p[off:], 10)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, p[off:off+m]...)
			off += m
		case 0x43, 0x44:
			w := 4
			if op == 0x44 {
				w = 8
			}
			if off+w > len(p) {
				return nil, 0, errors.New("truncated constant")
			}
			out = append(out, p[off:off+w]...)
			off += w
		case 0xd0: // ref.null t
			if off >= len(p) {
				return nil, 0, errors.New("truncated ref.null")
			}
			out = append(out, p[off])
			off++
		case 0xd2, 0x23: // ref.func, global.get
			idx, m, err := readU32(p[off:])
			if err != nil {
				return nil, 0, err
			}
			off += m
			if op == 0xd2 {
				ins.markAddr(idx)
				idx = ins.shiftFn(idx)
			} else if idx >= ins.nGlobals {
				return nil, 0, fmt.Errorf("global %d out of range", idx)
			}
			out = binary.AppendUvarint(out, uint64(idx))
		default:
			return nil, 0, fmt.Errorf("opcode 0x%02x in a constant expression", op)
		}
	}
	return nil, 0, errors.New("unterminated constant expression")
}

func (ins *instrumenter) rewriteElem(p []byte) ([]byte, error) {
	n, off, err := readU32(p)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), p[:off]...)
	for range n {
		flags, m, err := readU32(p[off:])
		if err != nil || flags > 7 {
			return nil, errors.New("bad element segment")
		}
		out = append(out, p[off:off+m]...)
		off += m
		if flags&3 == 2 { // explicit table index
			_, m, err := readU32(p[off:])
			if err != nil {
				return nil, err
			}
			out = append(out, p[off:off+m]...)
			off += m
		}
		if flags&1 == 0 { // active: offset expression
			if out, off, err = ins.constExpr(out, p, off); err != nil {
				return nil, err
			}
		}
		if flags&3 != 0 { // elemkind or reftype byte
			if off >= len(p) {
				return nil, errors.New("truncated element segment")
			}
			out = append(out, p[off])
			off++
		}
		count, m, err := readU32(p[off:])
		if err != nil {
			return nil, err
		}
		out = append(out, p[off:off+m]...)
		off += m
		for range count {
			if flags&4 != 0 {
				if out, off, err = ins.constExpr(out, p, off); err != nil {
					return nil, err
				}
				continue
			}
			idx, m, err := readU32(p[off:])
			if err != nil {
				return nil, err
			}
			off += m
			ins.markAddr(idx)
			out = binary.AppendUvarint(out, uint64(ins.shiftFn(idx)))
		}
	}
	if off != len(p) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// rewriteCustom shifts function indices in the name section (function,
// local and label names) and keeps other custom sections as they are. A
// name section it cannot parse is dropped: names only decorate traces.
func (ins *instrumenter) rewriteCustom(p []byte) []byte {
	l, m, err := readU32(p)
	if err != nil || m+int(l) > len(p) {
		return nil
	}
	if string(p[m:m+int(l)]) != "name" {
		return p
	}
	out := append([]byte(nil), p[:m+int(l)]...)
	r := p[m+int(l):]
	for len(r) > 0 {
		id := r[0]
		size, n, err := readU32(r[1:])
		if err != nil || 1+n+int(size) > len(r) {
			return nil
		}
		sub := r[1+n : 1+n+int(size)]
		r = r[1+n+int(size):]
		switch id {
		case 0:
		case 1, 2, 3: // function names; local and label names by function
			if sub, err = ins.shiftNameMap(sub, id != 1); err != nil {
				return nil
			}
		}
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(sub)))
		out = append(out, sub...)
	}
	return out
}

func (ins *instrumenter) shiftNameMap(p []byte, indirect bool) ([]byte, error) {
	n, off, err := readU32(p)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), p[:off]...)
	for range n {
		idx, m, err := readU32(p[off:])
		if err != nil {
			return nil, err
		}
		off += m
		out = binary.AppendUvarint(out, uint64(ins.shiftFn(idx)))
		start := off
		if indirect {
			// vec(index, name)
			c, m, err := readU32(p[off:])
			if err != nil {
				return nil, err
			}
			off += m
			for range c {
				if _, m, err = readU32(p[off:]); err != nil {
					return nil, err
				}
				off += m
				if off, err = skipName(p, off); err != nil {
					return nil, err
				}
			}
		} else if off, err = skipName(p, off); err != nil {
			return nil, err
		}
		out = append(out, p[start:off]...)
	}
	return out, nil
}

func skipName(p []byte, off int) (int, error) {
	l, m, err := readU32(p[off:])
	if err != nil || off+m+int(l) > len(p) {
		return 0, errors.New("bad name")
	}
	return off + m + int(l), nil
}

// Control-stack kinds.
const (
	ctlBlock = iota
	ctlLoop
	ctlIf
)

// classify returns a defined function's leaf cost: the static cost of its
// code outside loops if it makes no call, or -1 if it calls anything.
func (ins *instrumenter) classify(body []byte) (int64, error) {
	var cost int64
	leaf := true
	loops := 0
	ins.ctl = ins.ctl[:0]
	err := walkBody(body, func(op instr) error {
		if loops == 0 {
			cost++
		}
		switch op.code {
		case 0x10, 0x11: // call, call_indirect
			leaf = false
		case 0x02, 0x04:
			ins.ctl = append(ins.ctl, ctlBlock)
		case 0x03:
			ins.ctl = append(ins.ctl, ctlLoop)
			loops++
		case 0x0b:
			if n := len(ins.ctl); n > 0 {
				if ins.ctl[n-1] == ctlLoop {
					loops--
				}
				ins.ctl = ins.ctl[:n-1]
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !leaf {
		return -1, nil
	}
	return cost, nil
}

// instr is one decoded instruction: its opcode (with the 0xfc/0xfd prefix
// in the high byte), its bytes and the offset of its first immediate.
type instr struct {
	code uint32
	raw  []byte
	imm  int // offset of the immediates in raw
}

// walkBody decodes a function body (after its locals) instruction by
// instruction. It knows every opcode of the features wazero enables by
// default (core 2.0); anything else is refused.
func walkBody(body []byte, f func(instr) error) error {
	off, err := skipLocals(body)
	if err != nil {
		return err
	}
	for off < len(body) {
		start := off
		op := uint32(body[off])
		off++
		imm := off
		switch {
		case op == 0x02 || op == 0x03 || op == 0x04: // block type: s33
			m, err := lebLen(body[off:], 5)
			if err != nil {
				return err
			}
			off += m
		case op == 0x0c || op == 0x0d || op == 0x10 || (op >= 0x20 && op <= 0x26) || op == 0xd2:
			_, m, err := readU32(body[off:])
			if err != nil {
				return err
			}
			off += m
		case op == 0x0e: // br_table
			n, m, err := readU32(body[off:])
			if err != nil {
				return err
			}
			off += m
			for range n + 1 {
				_, m, err := readU32(body[off:])
				if err != nil {
					return err
				}
				off += m
			}
		case op == 0x11: // call_indirect type table
			for range 2 {
				_, m, err := readU32(body[off:])
				if err != nil {
					return err
				}
				off += m
			}
		case op == 0x1c: // select t*
			n, m, err := readU32(body[off:])
			if err != nil {
				return err
			}
			off += m + int(n)
		case op >= 0x28 && op <= 0x3e: // memarg
			m, err := memargLen(body[off:])
			if err != nil {
				return err
			}
			off += m
		case op == 0x3f || op == 0x40 || op == 0xd0:
			off++
		case op == 0x41:
			m, err := lebLen(body[off:], 5)
			if err != nil {
				return err
			}
			off += m
		case op == 0x42:
			m, err := lebLen(body[off:], 10)
			if err != nil {
				return err
			}
			off += m
		case op == 0x43:
			off += 4
		case op == 0x44:
			off += 8
		case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b ||
			(op >= 0x45 && op <= 0xc4) || op == 0xd1:
		case op == 0xfc:
			sub, m, err := readU32(body[off:])
			if err != nil {
				return err
			}
			off += m
			imm = off
			op = 0xfc00 | sub
			var n int // u32 immediates
			switch {
			case sub <= 7:
			case sub == 8: // memory.init data mem
				n = 1
				off++
			case sub == 9, sub == 13, sub >= 15 && sub <= 17:
				n = 1
			case sub == 10:
				off += 2
			case sub == 11:
				off++
			case sub == 12, sub == 14:
				n = 2
			default:
				return fmt.Errorf("unsupported instruction 0xfc %d", sub)
			}
			for range n {
				if off > len(body) { // memory.init's data index may end the body
					return errors.New("truncated instruction")
				}
				_, m, err := readU32(body[off:])
				if err != nil {
					return err
				}
				off += m
			}
		case op == 0xfd:
			sub, m, err := readU32(body[off:])
			if err != nil {
				return err
			}
			off += m
			imm = off
			op = 0xfd00 | sub
			switch {
			case sub <= 0x0b, sub == 0x5c, sub == 0x5d:
				m, err := memargLen(body[off:])
				if err != nil {
					return err
				}
				off += m
			case sub == 0x0c, sub == 0x0d:
				off += 16
			case sub >= 0x15 && sub <= 0x22:
				off++
			case sub >= 0x54 && sub <= 0x5b:
				m, err := memargLen(body[off:])
				if err != nil {
					return err
				}
				off += m + 1
			case sub <= 0xff:
			default:
				return fmt.Errorf("unsupported instruction 0xfd %d", sub)
			}
		default:
			return fmt.Errorf("unsupported instruction 0x%02x", op)
		}
		if off > len(body) {
			return errors.New("truncated instruction")
		}
		if err := f(instr{code: op, raw: body[start:off], imm: imm - start}); err != nil {
			return err
		}
	}
	return nil
}

func memargLen(p []byte) (int, error) {
	_, m1, err := readU32(p)
	if err != nil {
		return 0, err
	}
	_, m2, err := readU32(p[m1:])
	if err != nil {
		return 0, err
	}
	return m1 + m2, nil
}

// lebLen is the length of a LEB128 number of at most max bytes.
func lebLen(p []byte, max int) (int, error) {
	for i := 0; i < len(p) && i < max; i++ {
		if p[i]&0x80 == 0 {
			return i + 1, nil
		}
	}
	return 0, errors.New("bad LEB128")
}

// rewriteCode instruments every body.
func (ins *instrumenter) rewriteCode() ([]byte, error) {
	out := binary.AppendUvarint(nil, uint64(len(ins.bodies)))
	for i, body := range ins.bodies {
		b, err := ins.rewriteBody(i, body)
		if err != nil {
			return nil, wrapMalformed(err, "function %d", int(ins.nImportFn)+i)
		}
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// costWidth is the byte width of a patched cost immediate (signed LEB128
// padded to 5 bytes: up to 2^34-1).
const costWidth = 5

func (ins *instrumenter) openRegion(emitCheck bool) {
	r := regionAcc{patch: -1}
	if emitCheck {
		g := ins.fuelGlobal
		o := ins.out
		o = append(o, 0x23)
		o = binary.AppendUvarint(o, uint64(g))
		o = append(o, 0x42)
		r.patch = len(o)
		o = append(o, 0x80, 0x80, 0x80, 0x80, 0x00)
		o = append(o, 0x7d, 0x24) // i64.sub, global.set
		o = binary.AppendUvarint(o, uint64(g))
		o = append(o, 0x23)
		o = binary.AppendUvarint(o, uint64(g))
		o = append(o, 0x42, 0x00, 0x57, 0x04, 0x40) // i64.const 0, i64.le_s, if
		o = ins.appendRefuel(o)
		o = append(o, 0x0b) // end
		ins.out = o
	}
	ins.regions = append(ins.regions, r)
}

// appendRefuel appends "call __refuel; global.set fuel".
func (ins *instrumenter) appendRefuel(o []byte) []byte {
	o = append(o, 0x10)
	o = binary.AppendUvarint(o, uint64(ins.refuelFn))
	o = append(o, 0x24)
	return binary.AppendUvarint(o, uint64(ins.fuelGlobal))
}

func (ins *instrumenter) closeRegion() {
	n := len(ins.regions) - 1
	r := ins.regions[n]
	ins.regions = ins.regions[:n]
	if r.patch >= 0 {
		putPaddedSLEB(ins.out[r.patch:r.patch+costWidth], r.cost)
	}
}

func (ins *instrumenter) rewriteBody(fi int, body []byte) ([]byte, error) {
	localsEnd, err := skipLocals(body)
	if err != nil {
		return nil, err
	}
	ti := ins.funcTypes[fi]
	if int(ti) >= len(ins.types) {
		return nil, fmt.Errorf("type %d out of range", ti)
	}
	nLocals := uint64(ins.types[ti][0])
	{
		groups, off, _ := readU32(body)
		for range groups {
			c, m, _ := readU32(body[off:])
			nLocals += uint64(c)
			off += m + 1
		}
	}
	scratch := nLocals // an i32 local added when a bulk operation needs it
	usesScratch := false

	ins.out = ins.out[:0]
	ins.ctl = ins.ctl[:0]
	ins.regions = ins.regions[:0]
	leaf := ins.leafCost[fi] >= 0 && !ins.addrTaken[fi]
	ins.openRegion(!leaf)
	err = walkBody(body, func(in instr) error {
		if len(ins.regions) == 0 {
			return errors.New("instructions after the end of the function")
		}
		region := &ins.regions[len(ins.regions)-1]
		region.cost++
		if in.code == 0x02 || in.code == 0x03 || in.code == 0x04 {
			// A non-negative block type is a type index.
			if v, _ := readSLEB(in.raw[in.imm:]); v >= int64(ins.nTypes) {
				return fmt.Errorf("block type %d out of range", v)
			}
		}
		switch in.code {
		case 0x02, 0x04:
			ins.ctl = append(ins.ctl, ctlBlock)
		case 0x03:
			ins.ctl = append(ins.ctl, ctlLoop)
			ins.out = append(ins.out, in.raw...)
			ins.openRegion(true)
			return nil
		case 0x0b:
			n := len(ins.ctl)
			if n == 0 { // end of the function
				ins.out = append(ins.out, in.raw...)
				ins.closeRegion()
				return nil
			}
			kind := ins.ctl[n-1]
			ins.ctl = ins.ctl[:n-1]
			if kind == ctlLoop {
				ins.closeRegion()
				// The end belongs to the enclosing region.
				ins.regions[len(ins.regions)-1].cost++
			}
		case 0x10: // call
			idx, _, _ := readU32(in.raw[in.imm:])
			if idx < ins.nImportFn {
				ins.out = ins.appendRefuel(ins.out)
			} else if d := idx - ins.nImportFn; d < uint32(len(ins.leafCost)) && ins.leafCost[d] >= 0 && !ins.addrTaken[d] {
				region.cost += ins.leafCost[d]
			}
			ins.out = append(ins.out, 0x10)
			ins.out = binary.AppendUvarint(ins.out, uint64(ins.shiftFn(idx)))
			return nil
		case 0x11: // call_indirect
			if ins.hostInTable {
				ins.out = ins.appendRefuel(ins.out)
			}
			ti, _, _ := readU32(in.raw[in.imm:])
			if ti >= ins.nTypes {
				return fmt.Errorf("type %d out of range", ti)
			}
		case 0xd2: // ref.func
			idx, _, _ := readU32(in.raw[in.imm:])
			if idx < ins.nImportFn {
				return invalid(ErrForbiddenImport, "ref.func of imported function %d: host functions cannot be referenced", idx)
			}
			ins.out = append(ins.out, 0xd2)
			ins.out = binary.AppendUvarint(ins.out, uint64(ins.shiftFn(idx)))
			return nil
		case 0x23, 0x24: // global.get, global.set
			idx, _, _ := readU32(in.raw[in.imm:])
			if idx >= ins.nGlobals {
				return fmt.Errorf("global %d out of range", idx)
			}
		case 0xfc08, 0xfc0a, 0xfc0b, 0xfc0c, 0xfc0e, 0xfc11:
			// memory.init/copy/fill, table.init/copy/fill: the length is
			// on top of the stack; charge it.
			usesScratch = true
			o := append(ins.out, 0x22) // local.tee
			o = binary.AppendUvarint(o, scratch)
			o = append(o, 0x23)
			o = binary.AppendUvarint(o, uint64(ins.fuelGlobal))
			o = append(o, 0x20) // local.get
			o = binary.AppendUvarint(o, scratch)
			o = append(o, 0xad, 0x42, 0x04, 0x88, 0x7d, 0x24) // i64.extend_i32_u, i64.const 4, i64.shr_u, i64.sub, global.set
			o = binary.AppendUvarint(o, uint64(ins.fuelGlobal))
			ins.out = o
		}
		ins.out = append(ins.out, in.raw...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ins.ctl) != 0 || len(ins.regions) != 0 {
		return nil, errors.New("unbalanced blocks")
	}
	var b []byte
	if usesScratch {
		groups, off, _ := readU32(body)
		b = binary.AppendUvarint(b, uint64(groups)+1)
		b = append(b, body[off:localsEnd]...)
		b = append(b, 0x01, 0x7f) // one i32
	} else {
		b = append(b, body[:localsEnd]...)
	}
	return append(b, ins.out...), nil
}

// skipLocals returns the offset of the first instruction of a body. Local
// types are one byte in the feature set wazero enables (core 2.0: numbers,
// v128, funcref, externref).
func skipLocals(body []byte) (int, error) {
	groups, off, err := readU32(body)
	if err != nil {
		return 0, err
	}
	for range groups {
		_, n, err := readU32(body[off:])
		if err != nil {
			return 0, err
		}
		off += n + 1 // count, then a one-byte value type
		if off > len(body) {
			return 0, errors.New("locals overrun the body")
		}
	}
	return off, nil
}

func readU32Vec(p []byte) ([]uint32, error) {
	n, off, err := readU32(p)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, min(n, uint32(len(p))))
	for range n {
		v, m, err := readU32(p[off:])
		if err != nil {
			return nil, err
		}
		off += m
		out = append(out, v)
	}
	if off != len(p) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

func readU32(b []byte) (uint32, int, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || v > 0xffffffff {
		return 0, 0, errors.New("bad LEB128")
	}
	return uint32(v), n, nil
}

// readSLEB decodes a signed LEB128 of up to 10 bytes.
func readSLEB(b []byte) (int64, int) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// putPaddedSLEB writes a non-negative v into dst as a signed LEB128 of
// exactly len(dst) bytes.
func putPaddedSLEB(dst []byte, v int64) {
	if v < 0 || v >= 1<<(7*len(dst)-1) {
		v = 1<<(7*len(dst)-1) - 1 // saturate: the region then always checks
	}
	for i := range dst {
		c := byte(v & 0x7f)
		v >>= 7
		if i < len(dst)-1 {
			c |= 0x80
		}
		dst[i] = c
	}
}
