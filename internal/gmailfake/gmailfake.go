// Package gmailfake is a small in-process IMAP server that behaves as
// Gmail does where mailkeep cares, for tests: it announces X-GM-EXT-1,
// gives every message an X-GM-MSGID and X-GM-LABELS, and shows each label
// as a folder: INBOX holds the messages labelled \Inbox, "[Gmail]/Sent
// Mail" those labelled \Sent, "[Gmail]/All Mail" every message, and a
// user label's folder the messages that carry it, each folder with its own
// UIDs. It counts the bodies it sends, and it can answer any command
// with a scripted reply, such as a provider's throttling answers.
//
// It speaks as much IMAP4rev1 as mailkeep's backup and restore use:
// LOGIN, CAPABILITY, LIST, STATUS, SELECT, EXAMINE, UID SEARCH, UID FETCH
// (UID, FLAGS, INTERNALDATE, RFC822.SIZE, X-GM-MSGID, X-GM-LABELS, BODY[]
// and BODY[HEADER.FIELDS (...)]), UID STORE (FLAGS and X-GM-LABELS),
// APPEND with APPENDUID, CREATE, UNSELECT, CLOSE, NOOP and LOGOUT. No
// TLS: tests dial it with tls none.
package gmailfake

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Folders that are not labels.
const (
	Inbox   = "INBOX"
	AllMail = "[Gmail]/All Mail"
	Sent    = "[Gmail]/Sent Mail"
	Trash   = "[Gmail]/Trash"
)

// Message is one Gmail message.
type Message struct {
	MsgID  uint64
	Raw    string
	Date   time.Time
	Flags  []string
	Labels []string // \Inbox, \Sent, \Important, user labels
	Trash  bool     // in [Gmail]/Trash only
}

// Command is what a scripted reply is chosen by.
type Command struct {
	Name   string // upper case, with "UID " for UID commands: "UID FETCH", "SELECT"
	Folder string // the selected folder
	Body   bool   // a FETCH that asks for whole bodies
	N      int    // how many commands of this Name (and Body) the server has been sent, this one included
}

// Options change what the server announces. The zero value is Gmail.
type Options struct {
	// Generic leaves out X-GM-EXT-1: the server is then any IMAP server
	// that shows one message in several folders.
	Generic bool
	// ListStatus announces LIST-STATUS (RFC 5819).
	ListStatus bool
}

// Server is a running fake.
type Server struct {
	Addr     string
	User     string
	Password string
	opts     Options

	mu     sync.Mutex
	msgs   []*Message
	labels []string                     // user labels, as folders, in creation order
	uids   map[string]map[uint64]uint32 // folder → msgid → UID
	next   map[string]uint32            // folder → next UID
	nextID uint64
	counts map[string]int
	bodies map[uint64]int // msgid → bodies sent
	reply  func(Command) string
}

// Start serves msgs as Gmail on a free loopback port until the test
// ends. The user is "alice", the password "secret".
func Start(t testing.TB, msgs []*Message) *Server {
	t.Helper()
	return StartWith(t, msgs, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, msgs []*Message, opts Options) *Server {
	t.Helper()
	s := &Server{User: "alice", Password: "secret", opts: opts, uids: map[string]map[uint64]uint32{},
		next: map[string]uint32{}, counts: map[string]int{}, bodies: map[uint64]int{}, nextID: 1 << 60}
	for _, m := range msgs {
		s.add(m)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { newSession(s, c).serve() })
		}
	})
	return s
}

// add stores a message, giving it an id if it has none.
func (s *Server) add(m *Message) {
	if m.MsgID == 0 {
		s.nextID++
		m.MsgID = s.nextID
	}
	for _, l := range m.Labels {
		if !strings.HasPrefix(l, `\`) && !slices.Contains(s.labels, l) {
			s.labels = append(s.labels, l)
		}
	}
	s.msgs = append(s.msgs, m)
}

// Reply makes the server answer the commands f picks with f's text (the
// tagged response after the tag, such as "NO [OVERQUOTA] quota exceeded")
// instead of running them; f returns "" for the others.
func (s *Server) Reply(f func(Command) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = f
}

// Bodies returns how many times the server sent the body of each
// message, by X-GM-MSGID.
func (s *Server) Bodies() map[uint64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint64]int{}
	for k, v := range s.bodies {
		out[k] = v
	}
	return out
}

// Count returns how many commands named name the server was sent
// ("LOGIN", "UID FETCH"…).
func (s *Server) Count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

// Messages returns the server's messages (copies), in creation order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
		out[i].Labels = slices.Clone(m.Labels)
		out[i].Flags = slices.Clone(m.Flags)
	}
	return out
}

// folders lists the folders with their special-use attributes.
func (s *Server) folders() [][2]string {
	out := [][2]string{{Inbox, ""}, {"[Gmail]", `\Noselect`}, {AllMail, `\All`}, {Sent, `\Sent`}, {Trash, `\Trash`}}
	for _, l := range s.labels {
		out = append(out, [2]string{l, ""})
	}
	return out
}

func (s *Server) exists(folder string) bool {
	for _, f := range s.folders() {
		if f[0] == folder && f[1] != `\Noselect` {
			return true
		}
	}
	return false
}

// in reports whether message m shows in folder.
func in(m *Message, folder string) bool {
	switch folder {
	case Trash:
		return m.Trash
	case AllMail:
		return !m.Trash
	case Inbox:
		return !m.Trash && slices.Contains(m.Labels, `\Inbox`)
	case Sent:
		return !m.Trash && slices.Contains(m.Labels, `\Sent`)
	}
	return !m.Trash && slices.Contains(m.Labels, folder)
}

// view is a folder's messages with their UIDs, ascending; UIDs are given
// on first sight, in creation order.
type view struct {
	msgs []*Message
	uids []uint32
}

func (s *Server) view(folder string) view {
	if s.uids[folder] == nil {
		s.uids[folder], s.next[folder] = map[uint64]uint32{}, 1
	}
	var v view
	for _, m := range s.msgs {
		if !in(m, folder) {
			continue
		}
		uid, ok := s.uids[folder][m.MsgID]
		if !ok {
			uid = s.next[folder]
			s.next[folder]++
			s.uids[folder][m.MsgID] = uid
		}
		v.msgs, v.uids = append(v.msgs, m), append(v.uids, uid)
	}
	return v
}

func uidValidity(folder string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(folder))
	return h.Sum32()%1000000 + 1
}

// labelsIn are the X-GM-LABELS a message shows in folder: Gmail leaves
// out the label of the folder selected.
func labelsIn(m *Message, folder string) []string {
	var out []string
	for _, l := range m.Labels {
		if l == folder || l == `\Inbox` && folder == Inbox || l == `\Sent` && folder == Sent {
			continue
		}
		out = append(out, l)
	}
	return out
}

// session is one connection.
type session struct {
	s        *Server
	conn     net.Conn
	r        *reader
	w        *bufio.Writer
	folder   string
	readOnly bool
	authed   bool
}

func newSession(s *Server, c net.Conn) *session {
	w := bufio.NewWriter(c)
	return &session{s: s, conn: c, w: w, r: &reader{br: bufio.NewReader(c), w: w}}
}

// caps are the capabilities the server announces.
func (s *Server) caps() string {
	c := "IMAP4rev1 UIDPLUS UNSELECT SPECIAL-USE"
	if !s.opts.Generic {
		c += " X-GM-EXT-1"
	}
	if s.opts.ListStatus {
		c += " LIST-EXTENDED LIST-STATUS"
	}
	return c
}

func (ss *session) serve() {
	defer ss.conn.Close()
	fmt.Fprintf(ss.w, "* OK [CAPABILITY %s] Gimap ready\r\n", ss.s.caps())
	ss.w.Flush()
	for {
		tag, args, err := ss.r.command()
		if err != nil {
			if err == errSyntax {
				fmt.Fprint(ss.w, "* BAD syntax\r\n")
				ss.w.Flush()
				continue
			}
			return
		}
		if len(args) == 0 {
			fmt.Fprintf(ss.w, "%s BAD no command\r\n", tag)
			ss.w.Flush()
			continue
		}
		quit := ss.run(tag, args)
		if ss.w.Flush() != nil || quit {
			return
		}
	}
}

// run answers one command; it reports whether the session ends.
func (ss *session) run(tag string, args []any) bool {
	name := strings.ToUpper(text(args[0]))
	args = args[1:]
	if name == "UID" && len(args) > 0 {
		name += " " + strings.ToUpper(text(args[0]))
		args = args[1:]
	}
	if reply := ss.scripted(name, args); reply != "" {
		fmt.Fprintf(ss.w, "%s %s\r\n", tag, reply)
		return false
	}
	switch name {
	case "CAPABILITY":
		fmt.Fprintf(ss.w, "* CAPABILITY %s\r\n%s OK done\r\n", ss.s.caps(), tag)
	case "NOOP", "CHECK":
		fmt.Fprintf(ss.w, "%s OK done\r\n", tag)
	case "LOGOUT":
		fmt.Fprintf(ss.w, "* BYE bye\r\n%s OK done\r\n", tag)
		return true
	case "LOGIN":
		ss.login(tag, args)
	default:
		if !ss.authed {
			fmt.Fprintf(ss.w, "%s BAD log in first\r\n", tag)
			return false
		}
		ss.authedCommand(tag, name, args)
	}
	return false
}

// scripted returns the scripted reply to a command, if any.
func (ss *session) scripted(name string, args []any) string {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Command{Name: name, Folder: ss.folder, Body: name == "UID FETCH" && asksBody(args)}
	key := name
	if c.Body {
		key += " BODY"
	}
	s.counts[key]++
	if key != name {
		s.counts[name]++
	}
	c.N = s.counts[key]
	if s.reply == nil {
		return ""
	}
	return s.reply(c)
}

func (ss *session) login(tag string, args []any) {
	if len(args) != 2 || text(args[0]) != ss.s.User || text(args[1]) != ss.s.Password {
		fmt.Fprintf(ss.w, "%s NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n", tag)
		return
	}
	ss.authed = true
	fmt.Fprintf(ss.w, "%s OK [CAPABILITY %s] alice authenticated (Success)\r\n", tag, ss.s.caps())
}

func (ss *session) authedCommand(tag, name string, args []any) {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch name {
	case "LIST":
		err = ss.list(args)
	case "STATUS":
		err = ss.status(args)
	case "SELECT", "EXAMINE":
		err = ss.selectFolder(name, args)
	case "CREATE":
		err = ss.create(args)
	case "APPEND":
		err = ss.append(tag, args)
		if err == nil {
			return // tagged already
		}
	case "UNSELECT", "CLOSE":
		ss.folder = ""
	case "UID SEARCH":
		err = ss.search()
	case "UID FETCH":
		err = ss.fetch(args)
	case "UID STORE":
		err = ss.store(args)
	default:
		err = fmt.Errorf("BAD unknown command %s", name)
	}
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "BAD ") && !strings.HasPrefix(msg, "NO ") {
			msg = "NO " + msg
		}
		fmt.Fprintf(ss.w, "%s %s\r\n", tag, msg)
		return
	}
	fmt.Fprintf(ss.w, "%s OK %s done\r\n", tag, name)
}

func (ss *session) list(args []any) error {
	if len(args) < 2 {
		return fmt.Errorf("BAD list what")
	}
	if text(args[1]) == "" {
		fmt.Fprint(ss.w, "* LIST (\\Noselect) \"/\" \"\"\r\n")
		return nil
	}
	status := ss.s.opts.ListStatus && slices.ContainsFunc(args, func(a any) bool { return strings.EqualFold(text(a), "RETURN") })
	for _, f := range ss.s.folders() {
		attrs := `\HasNoChildren`
		if f[1] != "" {
			attrs += " " + f[1]
		}
		fmt.Fprintf(ss.w, "* LIST (%s) \"/\" %s\r\n", attrs, quote(f[0]))
		if status && f[1] != `\Noselect` {
			ss.writeStatus(f[0])
		}
	}
	return nil
}

func (ss *session) writeStatus(folder string) {
	v := ss.s.view(folder)
	fmt.Fprintf(ss.w, "* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d)\r\n", quote(folder), len(v.msgs),
		ss.s.next[folder], uidValidity(folder))
}

func (ss *session) status(args []any) error {
	if len(args) < 2 || !ss.s.exists(text(args[0])) {
		return fmt.Errorf("NO [NONEXISTENT] Unknown Mailbox")
	}
	ss.writeStatus(text(args[0]))
	return nil
}

func (ss *session) selectFolder(name string, args []any) error {
	if len(args) < 1 || !ss.s.exists(text(args[0])) {
		ss.folder = ""
		return fmt.Errorf("NO [NONEXISTENT] Unknown Mailbox")
	}
	ss.folder, ss.readOnly = text(args[0]), name == "EXAMINE"
	v := ss.s.view(ss.folder)
	fmt.Fprintf(ss.w, "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)\r\n* OK [UIDVALIDITY %d] UIDs valid\r\n"+
		"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDNEXT %d] Predicted next UID\r\n",
		uidValidity(ss.folder), len(v.msgs), ss.s.next[ss.folder])
	return nil
}

func (ss *session) create(args []any) error {
	if len(args) < 1 {
		return fmt.Errorf("BAD create what")
	}
	name := text(args[0])
	if ss.s.exists(name) {
		return fmt.Errorf("NO [ALREADYEXISTS] Duplicate folder name %s (Failure)", name)
	}
	ss.s.labels = append(ss.s.labels, name)
	return nil
}

// append stores a message in a folder: it gets the folder's label.
func (ss *session) append(tag string, args []any) error {
	if len(args) < 2 {
		return fmt.Errorf("BAD append what")
	}
	folder := text(args[0])
	if !ss.s.exists(folder) {
		return fmt.Errorf("NO [TRYCREATE] Folder doesn't exist")
	}
	m := &Message{Raw: text(args[len(args)-1]), Date: time.Now()}
	for _, a := range args[1 : len(args)-1] {
		switch a := a.(type) {
		case list:
			for _, f := range a {
				m.Flags = append(m.Flags, text(f))
			}
		case string:
			if t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", a); err == nil {
				m.Date = t
			}
		}
	}
	switch folder {
	case Inbox:
		m.Labels = []string{`\Inbox`}
	case Sent:
		m.Labels = []string{`\Sent`}
	case Trash:
		m.Trash = true
	case AllMail:
	default:
		m.Labels = []string{folder}
	}
	ss.s.add(m)
	v := ss.s.view(folder)
	fmt.Fprintf(ss.w, "%s OK [APPENDUID %d %d] (Success)\r\n", tag, uidValidity(folder), v.uids[len(v.uids)-1])
	return nil
}

func (ss *session) search() error {
	if ss.folder == "" {
		return fmt.Errorf("BAD select first")
	}
	v := ss.s.view(ss.folder)
	fmt.Fprint(ss.w, "* SEARCH")
	for _, u := range v.uids {
		fmt.Fprintf(ss.w, " %d", u)
	}
	fmt.Fprint(ss.w, "\r\n")
	return nil
}

// selected returns the selected folder's messages whose UIDs set names,
// with their sequence numbers.
func (ss *session) selected(set string) ([]int, view, error) {
	if ss.folder == "" {
		return nil, view{}, fmt.Errorf("BAD select first")
	}
	v := ss.s.view(ss.folder)
	var last uint32
	if len(v.uids) > 0 {
		last = v.uids[len(v.uids)-1]
	}
	has, err := parseSet(set, last)
	if err != nil {
		return nil, v, err
	}
	var out []int
	for i, u := range v.uids {
		if has(u) {
			out = append(out, i)
		}
	}
	return out, v, nil
}

func (ss *session) fetch(args []any) error {
	if len(args) < 2 {
		return fmt.Errorf("BAD fetch what")
	}
	idx, v, err := ss.selected(text(args[0]))
	if err != nil {
		return err
	}
	items, ok := args[1].(list)
	if !ok {
		items = list{args[1]}
	}
	for _, i := range idx {
		ss.fetchOne(i+1, v.uids[i], v.msgs[i], items)
	}
	return nil
}

func (ss *session) fetchOne(seq int, uid uint32, m *Message, items list) {
	parts := []string{fmt.Sprintf("UID %d", uid)}
	body := ""
	for _, it := range items {
		item := strings.ToUpper(text(it))
		switch {
		case item == "UID":
		case item == "FLAGS":
			parts = append(parts, "FLAGS ("+strings.Join(m.Flags, " ")+")")
		case item == "INTERNALDATE":
			parts = append(parts, `INTERNALDATE "`+m.Date.Format("02-Jan-2006 15:04:05 -0700")+`"`)
		case item == "RFC822.SIZE":
			parts = append(parts, fmt.Sprintf("RFC822.SIZE %d", len(m.Raw)))
		case ss.s.opts.Generic && strings.HasPrefix(item, "X-GM-"):
		case item == "X-GM-MSGID":
			parts = append(parts, fmt.Sprintf("X-GM-MSGID %d", m.MsgID))
		case item == "X-GM-LABELS":
			var ls []string
			for _, l := range labelsIn(m, ss.folder) {
				if strings.HasPrefix(l, `\`) {
					ls = append(ls, l)
				} else {
					ls = append(ls, quote(l))
				}
			}
			parts = append(parts, "X-GM-LABELS ("+strings.Join(ls, " ")+")")
		case item == "BODY[]" || item == "BODY.PEEK[]":
			ss.s.bodies[m.MsgID]++
			body = m.Raw
		case strings.HasPrefix(item, "BODY.PEEK[HEADER.FIELDS") || strings.HasPrefix(item, "BODY[HEADER.FIELDS"):
			head := headerField(m.Raw, "Message-ID")
			parts = append(parts, fmt.Sprintf("BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s", len(head), head))
		}
	}
	if body != "" {
		parts = append(parts, fmt.Sprintf("BODY[] {%d}\r\n%s", len(body), body))
	}
	fmt.Fprintf(ss.w, "* %d FETCH (%s)\r\n", seq, strings.Join(parts, " "))
}

// headerField returns the lines of the named header field, and the empty
// line that ends a header.
func headerField(raw, name string) string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	var out string
	for _, line := range strings.Split(head, "\r\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			out += line + "\r\n"
		}
	}
	return out + "\r\n"
}

func (ss *session) store(args []any) error {
	if len(args) < 3 {
		return fmt.Errorf("BAD store what")
	}
	if ss.readOnly {
		return fmt.Errorf("NO STORE attempt on READ-ONLY folder (Failure)")
	}
	idx, v, err := ss.selected(text(args[0]))
	if err != nil {
		return err
	}
	op := strings.ToUpper(text(args[1]))
	values, _ := args[2].(list)
	var vals []string
	for _, x := range values {
		vals = append(vals, text(x))
	}
	for _, i := range idx {
		m := v.msgs[i]
		switch strings.TrimSuffix(strings.TrimLeft(op, "+-"), ".SILENT") {
		case "X-GM-LABELS":
			m.Labels = change(m.Labels, op[0], vals)
			for _, l := range vals {
				if !strings.HasPrefix(l, `\`) && !slices.Contains(ss.s.labels, l) {
					ss.s.labels = append(ss.s.labels, l)
				}
			}
		case "FLAGS":
			m.Flags = change(m.Flags, op[0], vals)
		default:
			return fmt.Errorf("BAD unknown store item %s", op)
		}
	}
	return nil
}

func change(have []string, op byte, vals []string) []string {
	switch op {
	case '+':
		for _, v := range vals {
			if !slices.Contains(have, v) {
				have = append(have, v)
			}
		}
		return have
	case '-':
		return slices.DeleteFunc(have, func(h string) bool { return slices.Contains(vals, h) })
	}
	return slices.Clone(vals)
}

// parseSet parses a UID set ("1,3:5", "2:*"); last stands for *.
func parseSet(set string, last uint32) (func(uint32) bool, error) {
	type span struct{ lo, hi uint32 }
	var spans []span
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		if !isRange {
			hi = lo
		}
		a, err1 := num(lo, last)
		b, err2 := num(hi, last)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("BAD invalid set %q", set)
		}
		spans = append(spans, span{min(a, b), max(a, b)})
	}
	return func(u uint32) bool {
		for _, s := range spans {
			if u >= s.lo && u <= s.hi {
				return true
			}
		}
		return false
	}, nil
}

func num(s string, last uint32) (uint32, error) {
	if s == "*" {
		return max(last, 1), nil
	}
	var n uint32
	_, err := fmt.Sscanf(s, "%d", &n)
	return n, err
}

func asksBody(args []any) bool {
	if len(args) < 2 {
		return false
	}
	items, ok := args[1].(list)
	if !ok {
		items = list{args[1]}
	}
	for _, it := range items {
		if t := strings.ToUpper(text(it)); t == "BODY[]" || t == "BODY.PEEK[]" {
			return true
		}
	}
	return false
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Add stores a new message, as mail arriving does.
func (s *Server) Add(m *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(m)
}

// SetLabels replaces the labels of the message with X-GM-MSGID id.
func (s *Server) SetLabels(id uint64, labels []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.MsgID == id {
			m.Labels = slices.Clone(labels)
			for _, l := range labels {
				if !strings.HasPrefix(l, `\`) && !slices.Contains(s.labels, l) {
					s.labels = append(s.labels, l)
				}
			}
		}
	}
}
