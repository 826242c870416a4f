package script

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
)

// Compile-time limits. They bound the Go work (and Go stack) that goja's
// parser and compiler spend on one script, which nothing can interrupt.
const (
	// MaxSourceSize is the largest script Compile accepts, in bytes.
	MaxSourceSize = 64 << 10
	// maxNesting bounds brackets + arrows + labels (see scan.go). At 200,
	// the slowest construct measured ("{a:" nesting) parses in ~7 ms.
	maxNesting = 200
	// maxASTDepth bounds the syntax tree's depth, which also covers long
	// operator chains like a+a+...+a: goja's compiler is quadratic in them
	// (10,000 terms take 2-12 s); 500 takes ~30 ms at worst.
	maxASTDepth = 500
)

// The script is compiled as the body of this function, in strict mode. The
// parameters are the script's globals; they are fresh for every run.
const (
	scriptPrefix = `"use strict";(function(payload,headers,query,record,records,env,model,log,console){`
	scriptSuffix = "\n})"
)

// Program is a compiled script. It is immutable and safe to share between
// goroutines and Runners; compile once, run many times.
type Program struct {
	name  string
	prog  *goja.Program
	lines int // number of lines of the user's code
	uses  uses
}

// uses says which of the inputs a script can reach. Converting an input
// into JavaScript objects costs microseconds per call, so inputs a script
// never names are not converted (the parameter is undefined). The test is
// textual and conservative: the globals are parameters of the function the
// script is the body of, so without eval and Function (both disabled) a
// script reaches one only by writing its name, or through `arguments`, or
// with a \u escape in an identifier; any of those, even inside a string or
// a comment, counts as use.
type uses struct {
	payload, headers, query, record, records, env, model bool
}

func scanUses(code string) uses {
	all := strings.Contains(code, "arguments") || strings.Contains(code, `\u`)
	has := func(name string) bool { return all || strings.Contains(code, name) }
	return uses{
		payload: has("payload"),
		headers: has("headers"),
		query:   has("query"),
		record:  has("record"), // also true when only "records" appears: conservative
		records: has("records"),
		env:     has("env"),
		model:   has("model"),
	}
}

// Inputs says which of Input's fields a program can read.
type Inputs struct {
	Payload, Headers, Query, Record, Records bool
}

// Reads reports which inputs the program can read at all; Run ignores the
// others, so a caller need not build them (the core skips copying headers
// and query parameters for scripts that never name them).
func (p *Program) Reads() Inputs {
	u := p.uses
	return Inputs{Payload: u.payload, Headers: u.headers, Query: u.query, Record: u.record, Records: u.records}
}

// Name returns the name the program was compiled with.
func (p *Program) Name() string { return p.name }

// Compile parses and compiles a script. The code is the body of a function:
// top-level return is allowed (its value is ignored), declarations are
// local to the run, and the code runs in strict mode. Errors are always a
// *SyntaxError.
func Compile(name, code string) (*Program, error) {
	lines := strings.Count(code, "\n") + 1
	fail := func(line, col int, msg string) error {
		return &SyntaxError{Name: name, Line: line, Column: col, Message: msg}
	}
	if len(code) > MaxSourceSize {
		return nil, fail(1, 1, fmt.Sprintf("script is larger than %s", formatBytes(MaxSourceSize)))
	}
	if !utf8.ValidString(code) {
		return nil, fail(1, 1, "script is not valid UTF-8")
	}
	if err := checkNesting(code, maxNesting); err != nil {
		line, col := offsetPosition(code, err.offset)
		return nil, fail(line, col, err.msg)
	}

	src := scriptPrefix + code + scriptSuffix
	prg, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var list parser.ErrorList
		var one *parser.Error
		switch {
		case errors.As(err, &list) && len(list) > 0:
			one = list[0]
		case errors.As(err, &one):
		default:
			return nil, fail(1, 1, err.Error())
		}
		line, col := userPosition(one.Position.Line, one.Position.Column, code, lines)
		return nil, fail(line, col, one.Message)
	}
	// The wrapper must have stayed a wrapper: exactly the directive and the
	// function expression, the function ending at the suffix's brace. Code
	// like "}); let x = 1; (function(){" would otherwise escape the
	// function body and declare globals that outlive the run.
	if !wrapperIntact(prg, src) {
		return nil, fail(1, 1, "Unexpected token }")
	}
	if w := checkAST(prg); w != nil {
		line, col := userPosition(w.pos.Line, w.pos.Column, code, lines)
		return nil, fail(line, col, w.msg)
	}
	p, err := goja.CompileAST(prg, true)
	if err != nil {
		var cse *goja.CompilerSyntaxError
		if errors.As(err, &cse) && cse.File != nil {
			pos := cse.File.Position(cse.Offset)
			line, col := userPosition(pos.Line, pos.Column, code, lines)
			return nil, fail(line, col, cse.Message)
		}
		return nil, fail(1, 1, err.Error())
	}
	return &Program{name: name, prog: p, lines: lines, uses: scanUses(code)}, nil
}

func wrapperIntact(prg *ast.Program, src string) bool {
	if len(prg.Body) != 2 {
		return false
	}
	st, ok := prg.Body[1].(*ast.ExpressionStatement)
	if !ok {
		return false
	}
	fn, ok := st.Expression.(*ast.FunctionLiteral)
	if !ok || fn.Body == nil {
		return false
	}
	// file.Idx is 1-based; the function's closing brace is the suffix's.
	return int(fn.Body.RightBrace) == len(src)-1
}

// offsetPosition turns a byte offset into code into a 1-based line and
// column (columns count UTF-16 units like goja's do, close enough: bytes).
func offsetPosition(code string, off int) (int, int) {
	if off > len(code) {
		off = len(code)
	}
	before := code[:off]
	line := strings.Count(before, "\n") + 1
	col := off - strings.LastIndexByte(before, '\n')
	return line, col
}

// userPosition maps a position in the wrapped source back to the user's
// code: line 1 is shifted by the prefix, positions in the suffix are
// clamped to the end of the code.
func userPosition(line, col int, code string, lines int) (int, int) {
	if line == 1 {
		col -= len(scriptPrefix)
	}
	if line > lines {
		line = lines
		col = len(code) - strings.LastIndexByte(code, '\n')
	}
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	return line, col
}

type astProblem struct {
	pos file.Position
	msg string
}

// checkAST walks the syntax tree (by reflection, so it sees every node type
// goja has) and rejects trees deeper than maxASTDepth and BigInt literals:
// BigInt arithmetic (2n ** 10n**9n, 1n << 2n**40n) allocates without bound
// inside a single VM instruction, so the sandbox has no BigInt at all.
func checkAST(prg *ast.Program) *astProblem {
	w := &astWalker{file: prg.File, seen: map[uintptr]bool{}}
	w.walk(reflect.ValueOf(prg.Body), 0)
	return w.problem
}

type astWalker struct {
	file    *file.File
	seen    map[uintptr]bool
	problem *astProblem
}

var (
	astPkg  = reflect.TypeOf(ast.Program{}).PkgPath()
	idxType = reflect.TypeOf(file.Idx(0))
)

func (w *astWalker) fail(v reflect.Value, msg string) {
	w.problem = &astProblem{pos: w.file.Position(int(w.firstIdx(v)) - 1), msg: msg}
}

// firstIdx finds a file.Idx field in a node struct, for error positions.
func (w *astWalker) firstIdx(v reflect.Value) file.Idx {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return 1
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return 1
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Type() == idxType && f.Int() > 0 {
			return file.Idx(f.Int())
		}
	}
	for i := 0; i < v.NumField(); i++ {
		if idx := w.firstIdx(v.Field(i)); idx > 1 {
			return idx
		}
	}
	return 1
}

func (w *astWalker) walk(v reflect.Value, depth int) {
	if w.problem != nil {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), depth)
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type().Elem().PkgPath() != astPkg {
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			p := v.Pointer()
			if w.seen[p] {
				return
			}
			w.seen[p] = true
			depth++
			if depth > maxASTDepth {
				w.fail(v, "code is nested too deeply")
				return
			}
			if n, ok := v.Interface().(*ast.NumberLiteral); ok {
				if _, isBig := n.Value.(*big.Int); isBig {
					w.fail(v, "BigInt is not available in webhook scripts")
					return
				}
			}
		}
		w.walk(v.Elem(), depth)
	case reflect.Struct:
		if v.Type().PkgPath() != astPkg {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				w.walk(v.Field(i), depth)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), depth)
		}
	}
}
