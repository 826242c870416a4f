package script

// This file holds a small JavaScript lexer whose only job is to bound how
// deeply a script nests before goja's parser sees it.
//
// Why: goja's parser and compiler are recursive and, for some constructs,
// superlinear in the nesting depth (measured with this goja version:
// 20,000 nested "x=>" take 1.5 s to parse, 3,000 nested "{a:" take 22 s,
// 10,000 nested "{" take 10 s to compile, and 10^6 nested "(" overflow the
// goroutine stack, which kills the whole process). Parsing and compiling
// are Go code that vm.Interrupt cannot stop, so the only defence is not to
// start: Compile rejects sources whose nesting exceeds maxNesting.
//
// The lexer must never under-count, or a crafted script could slip deep
// nesting past it. The one ambiguity of JavaScript's lexical grammar that
// matters is "/": division or the start of a regular expression literal.
// Where the previous token settles it (an identifier or number before it
// means division, an operator means a regexp) the lexer decides; where it
// does not (after ")", "}", "++", "--" and keyword-like words) the lexer
// follows both readings at once, as a small set of states stepped in lock
// step over the input, dropping a reading as soon as it becomes impossible
// (a regexp running into a line end, a closing bracket that does not
// match). Depth is the maximum over all live readings, so it is never below
// the depth goja's parser will see.
//
// Depth counts open brackets ( [ { template literals and ${ substitutions,
// plus, at each bracket level, the arrows "=>" and labels "x:" seen since
// the last "," ";" or statement keyword at that level: arrows and labels
// nest without brackets ("a=>b=>c", "a:b:c:") and are the constructs on
// which goja's parser is slowest.

const maxLexStates = 16

const (
	modeCode = iota
	modeLineComment
	modeBlockComment
	modeSingle // '...'
	modeDouble // "..."
	modeRegexp
	modeRegexpClass
	// template text is not a mode: it is "top of stack is '`'"
)

// What the previous significant token says about a following "/".
const (
	prevOperator = iota // "/" starts a regexp
	prevOperand         // "/" divides
	prevEither          // could be either: follow both
)

type lexState struct {
	mode    uint8
	prev    uint8
	esc     bool // previous char was an unconsumed backslash
	escCR   bool // an escaped \r was just consumed: a following \n belongs to it
	star    bool // block comment: previous char was '*'
	dot     bool // the previous token was "." so a word is a property name
	inWord  bool
	wordAt  int  // start offset of the current word
	lastCh  byte // previous char in code mode (for "=>", "++", "--")
	labelOK bool // the token before the current word allows a label
	skip    bool // the next char was already consumed ("{" of "${", "*" of "/*")
	stack   []byte
	runs    []int // runs[i]: arrows and labels at bracket level i (len(stack)+1 entries)
}

func (s *lexState) clone() *lexState {
	c := *s
	c.stack = append([]byte(nil), s.stack...)
	c.runs = append([]int(nil), s.runs...)
	return &c
}

func (s *lexState) same(o *lexState) bool {
	if s.mode != o.mode || s.prev != o.prev || s.esc != o.esc || s.escCR != o.escCR ||
		s.star != o.star || s.dot != o.dot || s.inWord != o.inWord || s.lastCh != o.lastCh ||
		s.labelOK != o.labelOK || s.skip != o.skip || (s.inWord && s.wordAt != o.wordAt) ||
		len(s.stack) != len(o.stack) {
		return false
	}
	for i := range s.stack {
		if s.stack[i] != o.stack[i] {
			return false
		}
	}
	for i := range s.runs {
		if s.runs[i] != o.runs[i] {
			return false
		}
	}
	return true
}

func (s *lexState) depth() int {
	d := len(s.stack)
	for _, r := range s.runs {
		d += r
	}
	return d
}

// scanError is what checkNesting reports: an offset into the source and a
// message.
type scanError struct {
	offset int
	msg    string
}

// checkNesting returns nil if every reading of src nests at most max deep
// and at least one reading lexes to the end with balanced brackets.
func checkNesting(src string, max int) *scanError {
	states := []*lexState{{runs: []int{0}, labelOK: true}}
	var lastDeath scanError
	for i := 0; i < len(src); i++ {
		c := src[i]
		next := byte(0)
		if i+1 < len(src) {
			next = src[i+1]
		}
		var out []*lexState
		for _, s := range states {
			res, fork, err := s.step(src, i, c, next)
			if err != nil {
				if err.msg == msgTooDeep {
					return err
				}
				lastDeath = *err
				continue
			}
			if res != nil {
				out = appendState(out, res)
			}
			if fork != nil {
				out = appendState(out, fork)
			}
		}
		if len(out) == 0 {
			return &lastDeath
		}
		if len(out) > maxLexStates {
			return &scanError{offset: i, msg: "script is too ambiguous to check (too many possible regular expressions on one line)"}
		}
		for _, s := range out {
			if s.depth() > max {
				return &scanError{offset: i, msg: msgTooDeep}
			}
		}
		states = out
	}
	for _, s := range states {
		s.endWord(src, len(src))
		if (s.mode == modeCode || s.mode == modeLineComment) && len(s.stack) == 0 {
			return nil
		}
	}
	if lastDeath.msg != "" {
		return &lastDeath
	}
	return &scanError{offset: len(src), msg: "Unexpected end of input"}
}

const msgTooDeep = "code is nested too deeply (brackets, arrow functions and labels together)"

func appendState(list []*lexState, s *lexState) []*lexState {
	for _, o := range list {
		if o.same(s) {
			return list
		}
	}
	return append(list, s)
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c == '\\' || c == '#' || c >= 0x80 ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// isLineSep reports whether src[i:] starts with U+2028 or U+2029.
func isLineSep(src string, i int) bool {
	return i+2 < len(src) && src[i] == 0xE2 && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9)
}

// Words after which "/" may start a regexp even though they look like
// identifiers (they may also be plain identifiers: follow both readings).
var regexpKeywords = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true,
	"new": true, "delete": true, "void": true, "throw": true, "case": true,
	"do": true, "else": true, "yield": true, "await": true, "extends": true,
}

// Words that only start statements: arrows and labels cannot keep nesting
// across them at the same bracket level.
var statementKeywords = map[string]bool{
	"var": true, "let": true, "const": true, "if": true, "for": true, "while": true,
	"do": true, "return": true, "throw": true, "try": true, "switch": true,
	"break": true, "continue": true,
}

func (s *lexState) endWord(src string, end int) {
	if !s.inWord {
		return
	}
	s.inWord = false
	w := src[s.wordAt:end]
	switch {
	case s.dot:
		s.prev = prevOperand
	case regexpKeywords[w]:
		s.prev = prevEither
	default:
		s.prev = prevOperand
	}
	if !s.dot && statementKeywords[w] {
		s.runs[len(s.runs)-1] = 0
	}
	s.dot = false
}

func (s *lexState) push(b byte) {
	s.stack = append(s.stack, b)
	s.runs = append(s.runs, 0)
}

func (s *lexState) pop() {
	s.stack = s.stack[:len(s.stack)-1]
	s.runs = s.runs[:len(s.runs)-1]
}

func (s *lexState) top() byte {
	if len(s.stack) == 0 {
		return 0
	}
	return s.stack[len(s.stack)-1]
}

// step advances s over src[i] (== c; next is src[i+1] or 0). It returns the
// state to continue with (s itself, mutated), an optional second reading,
// or an error when this reading is impossible.
func (s *lexState) step(src string, i int, c, next byte) (*lexState, *lexState, *scanError) {
	if s.skip {
		s.skip = false
		return s, nil, nil
	}
	switch s.mode {
	case modeLineComment:
		if c == '\n' || c == '\r' || isLineSep(src, i) {
			s.mode = modeCode
		}
		return s, nil, nil
	case modeBlockComment:
		if s.star && c == '/' {
			s.mode = modeCode
		}
		s.star = c == '*'
		return s, nil, nil
	case modeSingle, modeDouble:
		if s.escCR {
			s.escCR = false
			if c == '\n' {
				return s, nil, nil
			}
		}
		if s.esc {
			s.esc = false
			s.escCR = c == '\r'
			return s, nil, nil
		}
		switch {
		case c == '\\':
			s.esc = true
		case c == '\n' || c == '\r':
			return nil, nil, &scanError{offset: i, msg: "Invalid or unexpected token (unterminated string)"}
		case (c == '\'' && s.mode == modeSingle) || (c == '"' && s.mode == modeDouble):
			s.mode = modeCode
			s.prev = prevOperand
		}
		return s, nil, nil
	case modeRegexp, modeRegexpClass:
		if c == '\n' || c == '\r' || isLineSep(src, i) {
			return nil, nil, &scanError{offset: i, msg: "Invalid regular expression: missing /"}
		}
		if s.esc {
			s.esc = false
			return s, nil, nil
		}
		switch {
		case c == '\\':
			s.esc = true
		case c == '[' && s.mode == modeRegexp:
			s.mode = modeRegexpClass
		case c == ']' && s.mode == modeRegexpClass:
			s.mode = modeRegexp
		case c == '/' && s.mode == modeRegexp:
			s.mode = modeCode
			s.prev = prevOperand
			s.lastCh = 0
			// the flags that follow lex as a word; it will read as an operand
		}
		return s, nil, nil
	}

	// Template text: the innermost open thing is a template literal.
	if s.top() == '`' {
		if s.escCR {
			s.escCR = false
		}
		if s.esc {
			s.esc = false
			return s, nil, nil
		}
		switch {
		case c == '\\':
			s.esc = true
		case c == '`':
			s.pop()
			s.prev = prevOperand
			s.lastCh = 0
		case c == '$' && next == '{':
			s.push('$')
			s.prev = prevOperator
			s.labelOK = false
			s.lastCh = 0
			s.skip = true
		}
		return s, nil, nil
	}

	// Code.
	if isWordByte(c) {
		if !s.inWord {
			s.inWord = true
			s.wordAt = i
		}
		s.lastCh = c
		return s, nil, nil
	}
	wasWord := s.inWord
	labelOK := s.labelOK
	s.endWord(src, i)
	lastCh := s.lastCh
	s.lastCh = c
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		s.lastCh = 0
		return s, nil, nil
	case '\'':
		s.mode = modeSingle
	case '"':
		s.mode = modeDouble
	case '`':
		s.push('`')
	case '(', '[', '{':
		s.push(c)
		s.prev = prevOperator
		s.labelOK = c == '{'
		return s, nil, nil
	case ')', ']', '}':
		want := byte('(')
		if c == ']' {
			want = '['
		} else if c == '}' {
			want = '{'
		}
		switch {
		case s.top() == want:
			s.pop()
		case c == '}' && s.top() == '$':
			s.pop() // back into the template text
			s.labelOK = false
			return s, nil, nil
		default:
			return nil, nil, &scanError{offset: i, msg: "Unexpected token " + string(c)}
		}
		if c == ']' {
			s.prev = prevOperand
		} else {
			s.prev = prevEither
		}
		s.labelOK = c == '}' || c == ')'
		return s, nil, nil
	case ';', ',':
		s.runs[len(s.runs)-1] = 0
		s.prev = prevOperator
		s.labelOK = c == ';'
		return s, nil, nil
	case ':':
		if wasWord && labelOK {
			s.runs[len(s.runs)-1]++
		}
		s.prev = prevOperator
		s.labelOK = true
		return s, nil, nil
	case '>':
		if lastCh == '=' {
			s.runs[len(s.runs)-1]++
		}
		s.prev = prevOperator
	case '.':
		s.dot = true
		s.prev = prevOperator
	case '+', '-':
		if lastCh == c {
			s.prev = prevEither
			s.lastCh = 0
		} else {
			s.prev = prevOperator
		}
	case '/':
		switch next {
		case '/':
			s.mode = modeLineComment
			s.lastCh = 0
			return s, nil, nil
		case '*':
			s.mode = modeBlockComment
			s.star = false
			s.lastCh = 0
			s.skip = true // the '*' of "/*" must not also close the comment
			return s, nil, nil
		}
		switch s.prev {
		case prevOperand:
			s.prev = prevOperator
		case prevOperator:
			s.mode = modeRegexp
		default:
			div := s.clone()
			div.prev = prevOperator
			s.mode = modeRegexp
			s.labelOK = false
			return s, div, nil
		}
	default:
		s.prev = prevOperator
	}
	s.labelOK = false
	return s, nil, nil
}
