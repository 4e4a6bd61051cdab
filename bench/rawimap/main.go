// Command rawimap is the lower-bound client of mailkeep's benchmark
// (bench/run.sh). Standard library only: it sends raw IMAP and POP3
// commands and does the least work a backup can do. It also fetches the
// reference copies that the benchmark compares archives with.
//
//	rawimap fetch  -addr 127.0.0.1:11143 -user alice -pass P [-state F] [-out DIR [-fsync]]
//	    LIST "" "*", then per selectable folder EXAMINE + one
//	    UID FETCH n:* (UID FLAGS INTERNALDATE BODY.PEEK[]); bodies are discarded,
//	    or with -out written as DIR/<folder>/<uid>.msg, exactly as served, with
//	    DIR/<folder>/index.tsv (uid, INTERNALDATE, FLAGS). <folder> is the name
//	    as the server spells it (modified UTF-7), "/" making subdirectories.
//	    With -state, folders whose STATUS (UIDVALIDITY UIDNEXT) is unchanged are
//	    skipped and only new UIDs are fetched (the incremental lower bound).
//	rawimap pop3   -addr 127.0.0.1:11110 -user bob -pass P [-state F] [-out DIR]
//	    UIDL, then pipelined RETR of every (new) message, discarded or written
//	    dot-unstuffed as DIR/<uidl>.msg.
//	rawimap append -addr 127.0.0.1:11143 -user carol -pass P -src DIR
//	    restore bound: CREATE + pipelined APPEND (LITERAL+) of a tree written by
//	    'fetch -out', keeping flags and INTERNALDATE.
//
// It prints one line: messages=N bytes=B folders=F (totals known after the
// run, including what earlier runs fetched when -state is used).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

type folderState struct {
	UIDValidity uint64 `json:"uidvalidity"`
	NextUID     uint64 `json:"next_uid"` // first UID not yet fetched
	Count       int    `json:"count"`
	Bytes       int64  `json:"bytes"`
}

type state struct {
	Folders map[string]*folderState `json:"folders"`
	POP3    map[string]bool         `json:"pop3,omitempty"`
	Bytes   int64                   `json:"bytes,omitempty"`
}

func loadState(p string) *state {
	st := &state{Folders: map[string]*folderState{}, POP3: map[string]bool{}}
	if p == "" {
		return st
	}
	if b, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(b, st); err != nil {
			die("bad state %s: %v", p, err)
		}
	}
	if st.Folders == nil {
		st.Folders = map[string]*folderState{}
	}
	if st.POP3 == nil {
		st.POP3 = map[string]bool{}
	}
	return st
}

func (st *state) save(p string) {
	if p == "" {
		return
	}
	b, _ := json.Marshal(st)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		die("%v", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		die("%v", err)
	}
}

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "rawimap: "+f+"\n", a...)
	os.Exit(1)
}

type conn struct {
	c   net.Conn
	r   *bufio.Reader
	w   *bufio.Writer
	tag int
}

func dial(addr string) *conn {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		die("%v", err)
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 256<<10), w: bufio.NewWriterSize(c, 256<<10)}
}

// line reads one CRLF-terminated line (without CRLF).
func (c *conn) line() []byte {
	l, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), l...)
		for err == bufio.ErrBufferFull {
			l, err = c.r.ReadSlice('\n')
			buf = append(buf, l...)
		}
		l = buf
	}
	if err != nil {
		die("read: %v", err)
	}
	return bytes.TrimRight(l, "\r\n")
}

// literalLen returns n if the line ends with {n}.
func literalLen(l []byte) (int64, bool) {
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(string(l[i+1:len(l)-1]), "+"), 10, 64)
	return n, err == nil
}

// cmd sends a tagged command and returns untagged lines (small literals inlined).
// Every literal of a response is passed to onLit, if set, instead of being kept.
func (c *conn) cmd(onLit func(head []byte, n int64) error, format string, a ...any) [][]byte {
	c.tag++
	tag := fmt.Sprintf("a%d", c.tag)
	fmt.Fprintf(c.w, tag+" "+format+"\r\n", a...)
	if err := c.w.Flush(); err != nil {
		die("write: %v", err)
	}
	var out [][]byte
	for {
		l := append([]byte(nil), c.line()...)
		for {
			n, ok := literalLen(l)
			if !ok {
				break
			}
			if onLit != nil {
				if err := onLit(l, n); err != nil {
					die("literal: %v", err)
				}
				l = append(l, "<lit>"...)
			} else {
				lit := make([]byte, n)
				if _, err := io.ReadFull(c.r, lit); err != nil {
					die("read literal: %v", err)
				}
				l = append(l, lit...)
			}
			l = append(l, c.line()...)
		}
		if bytes.HasPrefix(l, []byte(tag+" ")) {
			if !bytes.HasPrefix(l[len(tag)+1:], []byte("OK")) {
				die("%s %s -> %s", tag, strings.SplitN(fmt.Sprintf(format, a...), " ", 2)[0], l)
			}
			return out
		}
		out = append(out, l)
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// parseAString parses an IMAP astring (quoted or atom) at the start of s.
func parseAString(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
				b.WriteByte(s[i])
			case '"':
				return b.String()
			default:
				b.WriteByte(s[i])
			}
		}
		return b.String()
	}
	return s
}

func listFolders(c *conn) []string {
	var names []string
	for _, l := range c.cmd(nil, `LIST "" "*"`) {
		s := string(l)
		if !strings.HasPrefix(s, "* LIST ") {
			continue
		}
		s = s[len("* LIST "):]
		end := strings.IndexByte(s, ')')
		attrs := strings.ToLower(s[:end])
		if strings.Contains(attrs, `\noselect`) || strings.Contains(attrs, `\nonexistent`) {
			continue
		}
		rest := strings.TrimSpace(s[end+1:])
		// delimiter: quoted char or NIL
		if strings.HasPrefix(rest, "NIL") {
			rest = rest[3:]
		} else {
			rest = rest[strings.IndexByte(rest[1:], '"')+2:]
		}
		rest = strings.TrimSpace(rest)
		if n, ok := literalLen([]byte(rest)); ok { // inlined literal: "{n}name"
			i := strings.IndexByte(rest, '}')
			_ = n
			rest = rest[i+1:]
			names = append(names, rest)
			continue
		}
		names = append(names, parseAString(rest))
	}
	sort.Strings(names)
	return names
}

func statusOf(c *conn, folder string) (uidvalidity, uidnext uint64) {
	for _, l := range c.cmd(nil, "STATUS %s (UIDVALIDITY UIDNEXT)", quote(folder)) {
		s := string(l)
		i := strings.LastIndexByte(s, '(')
		f := strings.Fields(strings.Trim(s[i:], "()"))
		for k := 0; k+1 < len(f); k += 2 {
			v, _ := strconv.ParseUint(f[k+1], 10, 64)
			switch strings.ToUpper(f[k]) {
			case "UIDVALIDITY":
				uidvalidity = v
			case "UIDNEXT":
				uidnext = v
			}
		}
	}
	return
}

func field(head []byte, name string) string {
	i := bytes.Index(head, []byte(name+" "))
	if i < 0 {
		return ""
	}
	s := string(head[i+len(name)+1:])
	switch {
	case strings.HasPrefix(s, "("):
		return s[:strings.IndexByte(s, ')')+1]
	case strings.HasPrefix(s, `"`):
		return s[:strings.IndexByte(s[1:], '"')+2]
	default:
		if j := strings.IndexAny(s, " )"); j >= 0 {
			return s[:j]
		}
		return s
	}
}

func login(c *conn, user, pass string) {
	if g := c.line(); !bytes.HasPrefix(g, []byte("* OK")) {
		die("greeting: %s", g)
	}
	c.cmd(nil, "LOGIN %s %s", quote(user), quote(pass))
}

func fetch(addr, user, pass, statePath, out string) {
	st := loadState(statePath)
	c := dial(addr)
	login(c, user, pass)
	f := &fetcher{c: c, out: out}
	for _, name := range listFolders(c) {
		fs := st.folder(name)
		if statePath != "" && !fs.changed(statusOf(c, name)) {
			continue
		}
		f.folder(name, fs)
	}
	c.cmd(nil, "LOGOUT")
	st.save(statePath)
	report(st)
}

func (st *state) folder(name string) *folderState {
	fs := st.Folders[name]
	if fs == nil {
		fs = &folderState{NextUID: 1}
		st.Folders[name] = fs
	}
	return fs
}

// changed reports whether STATUS shows mail not fetched yet; a new
// UIDVALIDITY starts the folder over.
func (fs *folderState) changed(uidvalidity, uidnext uint64) bool {
	if uidvalidity == fs.UIDValidity && uidnext <= fs.NextUID {
		return false
	}
	if uidvalidity != fs.UIDValidity {
		*fs = folderState{UIDValidity: uidvalidity, NextUID: 1}
	}
	return true
}

// fetcher fetches folders over one connection, writing them under out
// when it is set.
type fetcher struct {
	c   *conn
	out string
	buf []byte
	dir string
	idx *os.File
}

func (f *fetcher) folder(name string, fs *folderState) {
	f.openOut(name) // empty folders get their (empty) index too
	defer f.closeOut()
	if f.examine(name, fs) == 0 {
		return
	}
	from := fs.NextUID
	f.c.cmd(func(head []byte, n int64) error { return f.message(head, n, from, fs) },
		"UID FETCH %d:* (UID FLAGS INTERNALDATE BODY.PEEK[])", from)
}

// examine selects the folder read-only and returns its message count.
func (f *fetcher) examine(name string, fs *folderState) int {
	exists := -1
	for _, l := range f.c.cmd(nil, "EXAMINE %s", quote(name)) {
		s := string(l)
		if strings.HasSuffix(s, " EXISTS") {
			exists, _ = strconv.Atoi(strings.Fields(s)[1])
		}
		if i := strings.Index(s, "[UIDVALIDITY "); i >= 0 {
			fs.UIDValidity, _ = strconv.ParseUint(strings.TrimRight(strings.Fields(s[i+13:])[0], "]"), 10, 64)
		}
	}
	return exists
}

func (f *fetcher) openOut(name string) {
	if f.out == "" {
		return
	}
	f.dir = filepath.Join(f.out, filepath.FromSlash(name))
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		die("%v", err)
	}
	var err error
	if f.idx, err = os.OpenFile(filepath.Join(f.dir, "index.tsv"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		die("%v", err)
	}
}

func (f *fetcher) closeOut() {
	if f.idx != nil {
		f.idx.Close()
		f.idx = nil
	}
}

// message consumes one body literal of n bytes.
func (f *fetcher) message(head []byte, n int64, from uint64, fs *folderState) error {
	uid, _ := strconv.ParseUint(field(head, "UID"), 10, 64)
	switch {
	case uid < from: // "n:*" always returns the last message
		_, err := f.c.r.Discard(int(n))
		return err
	case f.out == "":
		if _, err := f.c.r.Discard(int(n)); err != nil {
			return err
		}
	default:
		if err := f.save(head, n, uid); err != nil {
			return err
		}
	}
	fs.Count++
	fs.Bytes += n
	fs.NextUID = max(fs.NextUID, uid+1)
	return nil
}

func (f *fetcher) save(head []byte, n int64, uid uint64) error {
	if int64(cap(f.buf)) < n {
		f.buf = make([]byte, n)
	}
	b := f.buf[:n]
	if _, err := io.ReadFull(f.c.r, b); err != nil {
		return err
	}
	name := strconv.FormatUint(uid, 10)
	if err := writeFile(filepath.Join(f.dir, name+".msg"), b); err != nil {
		return err
	}
	_, err := fmt.Fprintf(f.idx, "%s\t%s\t%s\n", name, field(head, "INTERNALDATE"), field(head, "FLAGS"))
	return err
}

var doFsync bool

// writeFile writes b to p, with fsync when -fsync is given (what a durable backup pays).
func writeFile(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if doFsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func report(st *state) {
	n, b := 0, int64(0)
	for _, f := range st.Folders {
		n += f.Count
		b += f.Bytes
	}
	if len(st.POP3) > 0 {
		n, b = len(st.POP3), st.Bytes
	}
	fmt.Printf("messages=%d bytes=%d folders=%d\n", n, b, len(st.Folders))
}

func pop3(addr, user, pass, statePath, out string) {
	st := loadState(statePath)
	p := &pop3Conn{conn: dial(addr)}
	p.ok()
	p.send("USER " + user)
	p.ok()
	p.send("PASS " + pass)
	p.ok()
	todo := p.uidl(st)
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			die("%v", err)
		}
	}
	p.retrAll(todo, st, out)
	p.send("QUIT")
	p.ok()
	st.save(statePath)
	if len(st.POP3) == 0 {
		fmt.Printf("messages=0 bytes=0 folders=1\n")
		return
	}
	report(st)
}

type pop3Conn struct{ *conn }

type pop3Msg struct{ num, uidl string }

func (p *pop3Conn) ok() {
	if l := p.line(); !bytes.HasPrefix(l, []byte("+OK")) {
		die("pop3: %s", l)
	}
}

func (p *pop3Conn) send(s string) {
	p.w.WriteString(s + "\r\n")
	p.w.Flush()
}

// uidl lists the messages whose UIDL the state does not hold yet.
func (p *pop3Conn) uidl(st *state) []pop3Msg {
	p.send("UIDL")
	p.ok()
	var todo []pop3Msg
	for {
		l := p.line()
		if string(l) == "." {
			return todo
		}
		f := strings.Fields(string(l))
		if !st.POP3[f[1]] {
			todo = append(todo, pop3Msg{f[0], f[1]})
		}
	}
}

// retrAll sends every RETR at once from a goroutine and reads the answers here.
func (p *pop3Conn) retrAll(todo []pop3Msg, st *state, out string) {
	errc := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(p.c)
		for _, m := range todo {
			w.WriteString("RETR " + m.num + "\r\n")
		}
		errc <- w.Flush()
	}()
	var body bytes.Buffer
	for _, m := range todo {
		p.ok()
		body.Reset()
		st.Bytes += p.body(&body, out != "")
		if out != "" {
			if err := writeFile(filepath.Join(out, m.uidl+".msg"), body.Bytes()); err != nil {
				die("%v", err)
			}
		}
		st.POP3[m.uidl] = true
	}
	if err := <-errc; err != nil {
		die("%v", err)
	}
}

// body reads one multi-line answer up to its terminating ".", dot-unstuffed
// into w when keep is set, and returns its size on the wire.
func (p *pop3Conn) body(w *bytes.Buffer, keep bool) int64 {
	var n int64
	lineStart := true
	for {
		l, err := p.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			die("pop3 read: %v", err)
		}
		if lineStart && len(l) == 3 && l[0] == '.' && l[1] == '\r' {
			return n
		}
		n += int64(len(l))
		if keep {
			if lineStart && len(l) > 1 && l[0] == '.' {
				l = l[1:]
			}
			w.Write(l)
		}
		lineStart = err == nil
	}
}
func appendAll(addr, user, pass, src string) {
	c := dial(addr)
	login(c, user, pass)
	folders := sourceFolders(src)
	total, bytesTotal := 0, int64(0)
	for _, f := range folders {
		if f != "INBOX" {
			create(c, f)
		}
		n, b := appendFolder(c, f, filepath.Join(src, filepath.FromSlash(f)))
		total += n
		bytesTotal += b
	}
	c.cmd(nil, "LOGOUT")
	fmt.Printf("messages=%d bytes=%d folders=%d\n", total, bytesTotal, len(folders))
}

// sourceFolders lists the folders of a tree written by 'fetch -out'.
func sourceFolders(src string) []string {
	var folders []string
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "index.tsv" {
			rel, _ := filepath.Rel(src, filepath.Dir(p))
			folders = append(folders, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(folders)
	return folders
}

// create makes a folder; ALREADYEXISTS is fine (parents are created on the way).
func create(c *conn, f string) {
	c.tag++
	fmt.Fprintf(c.w, "a%d CREATE %s\r\n", c.tag, quote(f))
	c.w.Flush()
	for !bytes.HasPrefix(c.line(), []byte(fmt.Sprintf("a%d ", c.tag))) {
	}
}

// appendFolder sends every message of dir with pipelined APPENDs and
// non-synchronizing literals, reading the answers concurrently.
func appendFolder(c *conn, f, dir string) (int, int64) {
	idx, err := os.ReadFile(filepath.Join(dir, "index.tsv"))
	if err != nil {
		die("%v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(idx)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return 0, 0
	}
	first := c.tag + 1
	errc := make(chan error, 1)
	go func() { errc <- awaitTagged(c, len(lines)) }()
	var size int64
	for _, l := range lines {
		p := strings.SplitN(l, "\t", 3)
		b, err := os.ReadFile(filepath.Join(dir, p[0]+".msg"))
		if err != nil {
			die("%v", err)
		}
		flags := strings.ReplaceAll(strings.ReplaceAll(p[2], `\Recent`, ""), "( ", "(")
		c.tag++
		fmt.Fprintf(c.w, "a%d APPEND %s %s %s {%d+}\r\n", c.tag, quote(f), strings.TrimSpace(flags), p[1], len(b))
		c.w.Write(b)
		c.w.WriteString("\r\n")
		size += int64(len(b))
	}
	if err := c.w.Flush(); err != nil {
		die("%v", err)
	}
	if err := <-errc; err != nil {
		die("append (first tag a%d): %v", first, err)
	}
	return len(lines), size
}

// awaitTagged reads n tagged answers, all of which must be OK.
func awaitTagged(c *conn, n int) error {
	for seen := 0; seen < n; {
		l, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if l[0] == 'a' {
			seen++
			if !bytes.Contains(l, []byte(" OK")) {
				return errors.New(string(l))
			}
		}
	}
	return nil
}
func main() {
	if len(os.Args) < 2 {
		die("usage: rawimap fetch|pop3|append [flags]")
	}
	mode := os.Args[1]
	fl := flag.NewFlagSet(mode, flag.ExitOnError)
	addr := fl.String("addr", "127.0.0.1:11143", "server host:port")
	user := fl.String("user", "alice", "login")
	pass := fl.String("pass", "", "password")
	statePath := fl.String("state", "", "incremental state file (JSON)")
	out := fl.String("out", "", "write messages under this dir instead of discarding")
	src := fl.String("src", "", "append: tree written by 'fetch -out'")
	fl.BoolVar(&doFsync, "fsync", false, "with -out: fsync every message file")
	fl.Parse(os.Args[2:])
	switch mode {
	case "fetch":
		fetch(*addr, *user, *pass, *statePath, *out)
	case "pop3":
		pop3(*addr, *user, *pass, *statePath, *out)
	case "append":
		appendAll(*addr, *user, *pass, *src)
	default:
		die("unknown mode %s", mode)
	}
}
