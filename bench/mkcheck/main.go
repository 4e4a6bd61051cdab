// Command mkcheck is the result check of mailkeep's benchmark
// (bench/run.sh): it compares what a run produced with what the server
// serves, so that a broken run is never reported as a time.
//
//	mkcheck imap  -archive ROOT/ACCOUNT -ref DIR [-zstd N]
//	    Every message of the archive against the reference tree that
//	    'rawimap fetch -out DIR' wrote from the same account: the same
//	    folders and UIDs, content byte-identical after zstd decompression,
//	    S= and W= right, the same flags and keywords, mtime = INTERNALDATE.
//	mkcheck pop3  -archive ROOT/ACCOUNT -ref DIR [-zstd N]
//	    The INBOX of a POP3 archive against 'rawimap pop3 -out DIR': one file
//	    per UIDL, byte-identical.
//	mkcheck trees -want DIR -got DIR
//	    Two 'rawimap fetch -out' trees (a source account and the account a
//	    restore filled): per folder the same messages, byte-identical, with
//	    the same flags and INTERNALDATE.
//	mkcheck mbox  -dir DIR -ref DIR
//	    An mbox export ('mailkeep export --format mbox') against the reference
//	    tree: one DIR/<folder>.mbox per reference folder, holding its messages
//	    in mboxrd, byte-identical once un-quoted (a message that does not end
//	    in a newline gets one), each after a "From " line with its
//	    INTERNALDATE.
//	mkcheck age-keygen DIR
//	    Writes an age identity (DIR/identity.txt) and its recipient
//	    (DIR/recipients.txt) for an encrypted archive, unless they exist.
//
// With -identity FILE (imap, pop3) the archive is encrypted: each file is
// decrypted with age (filippo.io/age) before it is decompressed.
//
// Decompression uses klauspost/compress; -zstd N also decompresses N of the
// files with the reference zstd command line tool. mkcheck reads the
// archive's files only, never mailkeep's catalog or code. It prints one
// summary line and exits 0, or lists the first problems and exits 1.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: mkcheck imap|pop3|trees|mbox [flags]")
	}
	fl := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	arch := fl.String("archive", "", "archive directory of one account (<archive>/<account>)")
	ref := fl.String("ref", "", "reference tree written by rawimap")
	want := fl.String("want", "", "trees: the source tree")
	got := fl.String("got", "", "trees: the tree to check")
	dir := fl.String("dir", "", "mbox: the export directory")
	sample := fl.Int("zstd", 0, "also decompress this many files with the zstd command")
	identity := fl.String("identity", "", "age identity file of an encrypted archive")
	fl.Parse(os.Args[2:])
	c := &checker{sample: *sample}
	var err error
	if *identity != "" {
		c.sample = 0 // the files are not zstd frames for the zstd tool
		c.ids, err = readIdentities(*identity)
		if err != nil {
			fail(err.Error())
		}
	}
	switch os.Args[1] {
	case "age-keygen":
		if err := ageKeygen(fl.Arg(0)); err != nil {
			fail(err.Error())
		}
		return
	case "imap":
		err = c.imap(*arch, *ref)
	case "pop3":
		err = c.pop3(*arch, *ref)
	case "trees":
		err = c.trees(*want, *got)
	case "mbox":
		err = c.mbox(*dir, *ref)
	default:
		fail("unknown mode " + os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
	if len(c.problems) > 0 {
		for i, p := range c.problems {
			if i == 10 {
				fmt.Fprintf(os.Stderr, "  … and %d more\n", len(c.problems)-10)
				break
			}
			fmt.Fprintln(os.Stderr, "  "+p)
		}
		fail(fmt.Sprintf("%d problems in %d messages", len(c.problems), c.messages))
	}
	fmt.Printf("ok: %d messages in %d folders byte-identical, %d bytes", c.messages, c.folders, c.raw)
	if c.stored > 0 {
		fmt.Printf(" (%d compressed; %d also checked with the zstd tool)", c.stored, c.sampled)
	}
	fmt.Println()
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "mkcheck:", msg)
	os.Exit(1)
}

type checker struct {
	sample, sampled  int
	messages         int
	folders          int
	raw, stored      int64
	problems         []string
	dec              *zstd.Decoder
	zstdSampleCursor int
	ids              []age.Identity // of an encrypted archive
}

func (c *checker) problem(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

// refMessage is one message of a rawimap reference tree.
type refMessage struct {
	path  string
	date  string // INTERNALDATE as the server wrote it, quoted
	flags []string
}

// loadRef reads a 'rawimap fetch -out' tree: decoded folder name → UID → message.
func loadRef(dir string) (map[string]map[uint32]refMessage, error) {
	out := map[string]map[uint32]refMessage{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "index.tsv" {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		name, err := decodeMUTF7(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		msgs, err := readIndex(filepath.Dir(p))
		out[name] = msgs
		return err
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no folders in reference tree %s", dir)
	}
	return out, err
}

func readIndex(dir string) (map[uint32]refMessage, error) {
	f, err := os.Open(filepath.Join(dir, "index.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	msgs := map[uint32]refMessage{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.SplitN(sc.Text(), "\t", 3)
		if len(cols) != 3 {
			return nil, fmt.Errorf("%s/index.tsv: bad line %q", dir, sc.Text())
		}
		uid, err := strconv.ParseUint(cols[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s/index.tsv: %w", dir, err)
		}
		msgs[uint32(uid)] = refMessage{path: filepath.Join(dir, cols[0]+".msg"), date: cols[1], flags: parseFlags(cols[2])}
	}
	return msgs, sc.Err()
}

// parseFlags turns "(\Seen $Label1)" into sorted lower-case flags, without \Recent.
func parseFlags(s string) []string {
	var out []string
	for _, f := range strings.Fields(strings.Trim(s, "()")) {
		if f = strings.ToLower(f); f != `\recent` {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// archiveFolder is one Maildir of a mailkeep archive.
type archiveFolder struct {
	dir      string // the .mk directory
	name     string // decoded server name, from mailkeep-folder
	keywords map[byte]string
}

// loadArchive finds the Maildirs under <account>/mail.
func loadArchive(account string) ([]archiveFolder, error) {
	var out []archiveFolder
	root := filepath.Join(account, "mail")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != ".mk" {
			return err
		}
		meta, err := os.ReadFile(filepath.Join(p, "mailkeep-folder"))
		if err != nil {
			return err
		}
		var m struct{ Name string }
		if err := json.Unmarshal(meta, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		kw, err := readKeywords(filepath.Join(p, "dovecot-keywords"))
		out = append(out, archiveFolder{dir: p, name: m.Name, keywords: kw})
		return err
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("no folders in archive %s", account)
	}
	return out, err
}

// readKeywords reads Dovecot's "index name" lines: letter 'a'+index.
func readKeywords(path string) (map[byte]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kw := map[byte]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		i, name, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(i)
		if ok && err == nil && n >= 0 && n < 26 {
			kw[byte('a'+n)] = strings.ToLower(name)
		}
	}
	return kw, nil
}

// fileName is a parsed archive file name: <key>,S=<size>,W=<vsize>:2,<flags>.
type fileName struct {
	key         string
	size, vsize int64
	letters     string
}

func parseName(name string) (fileName, error) {
	base, letters, ok := strings.Cut(name, ":2,")
	if !ok {
		return fileName{}, fmt.Errorf("no :2, in %q", name)
	}
	parts := strings.Split(base, ",")
	fn := fileName{key: parts[0], size: -1, vsize: -1, letters: letters}
	for _, p := range parts[1:] {
		if v, ok := strings.CutPrefix(p, "S="); ok {
			fn.size, _ = strconv.ParseInt(v, 10, 64)
		} else if v, ok := strings.CutPrefix(p, "W="); ok {
			fn.vsize, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return fn, nil
}

var systemLetters = map[byte]string{'D': `\draft`, 'F': `\flagged`, 'R': `\answered`, 'S': `\seen`, 'T': `\deleted`}

func (f archiveFolder) flags(letters string) []string {
	var out []string
	for i := 0; i < len(letters); i++ {
		if s, ok := systemLetters[letters[i]]; ok {
			out = append(out, s)
		} else if k, ok := f.keywords[letters[i]]; ok {
			out = append(out, k)
		} else {
			out = append(out, "?"+string(letters[i]))
		}
	}
	slices.Sort(out)
	return out
}

func (c *checker) imap(account, refDir string) error {
	ref, err := loadRef(refDir)
	if err != nil {
		return err
	}
	folders, err := loadArchive(account)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range folders {
		want, ok := ref[f.name]
		if !ok {
			c.problem("folder %q is in the archive but not on the server", f.name)
			continue
		}
		seen[f.name] = true
		c.folders++
		if err := c.imapFolder(f, want); err != nil {
			return err
		}
	}
	for name, msgs := range ref {
		if !seen[name] {
			c.problem("folder %q (%d messages) is missing from the archive", name, len(msgs))
		}
	}
	return nil
}

func (c *checker) imapFolder(f archiveFolder, want map[uint32]refMessage) error {
	entries, err := os.ReadDir(filepath.Join(f.dir, "cur"))
	if err != nil {
		return err
	}
	have := map[uint32]bool{}
	for _, e := range entries {
		fn, err := parseName(e.Name())
		if err != nil {
			c.problem("%s: %v", f.name, err)
			continue
		}
		uid, ok := imapUID(fn.key)
		r, known := want[uid]
		if !ok || !known {
			c.problem("%s: file %s is not a message the server has", f.name, e.Name())
			continue
		}
		have[uid] = true
		c.compareFile(f, filepath.Join(f.dir, "cur", e.Name()), fn, r)
	}
	for uid := range want {
		if !have[uid] {
			c.problem("%s: UID %d is missing from the archive", f.name, uid)
		}
	}
	return nil
}

// imapUID returns the UID of a key m<uidvalidity>.<uid>.
func imapUID(key string) (uint32, bool) {
	rest, ok := strings.CutPrefix(key, "m")
	_, uid, ok2 := strings.Cut(rest, ".")
	n, err := strconv.ParseUint(uid, 10, 32)
	return uint32(n), ok && ok2 && err == nil
}

// compareFile checks one archive file against the server's copy.
func (c *checker) compareFile(f archiveFolder, path string, fn fileName, r refMessage) {
	c.messages++
	want, err := os.ReadFile(r.path)
	if err != nil {
		c.problem("%v", err)
		return
	}
	got, stored, err := c.decompress(path)
	if err != nil {
		c.problem("%s: %v", path, err)
		return
	}
	c.raw += int64(len(got))
	c.stored += stored
	switch {
	case !bytes.Equal(got, want):
		c.problem("%s: content differs from the server's (%d bytes, server %d)", path, len(got), len(want))
	case fn.size != int64(len(got)):
		c.problem("%s: S=%d, content has %d bytes", path, fn.size, len(got))
	case fn.vsize != vsize(got):
		c.problem("%s: W=%d, want %d", path, fn.vsize, vsize(got))
	}
	if r.flags != nil || fn.letters != "" {
		if g := f.flags(fn.letters); !slices.Equal(g, r.flags) {
			c.problem("%s: flags %v, server has %v", path, g, r.flags)
		}
	}
	if r.date != "" {
		c.checkDate(path, r.date)
	}
	c.sampleZstd(path, want)
}

func (c *checker) checkDate(path, date string) {
	want, err := time.Parse(`"_2-Jan-2006 15:04:05 -0700"`, date)
	if err != nil {
		c.problem("%s: server INTERNALDATE %s: %v", path, date, err)
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		c.problem("%v", err)
		return
	}
	if !info.ModTime().Equal(want) {
		c.problem("%s: mtime %v, INTERNALDATE %v", path, info.ModTime().UTC(), want.UTC())
	}
}

// vsize is the size with every bare LF counted as CRLF (Dovecot's W=).
func vsize(b []byte) int64 {
	n := int64(len(b))
	for i, ch := range b {
		if ch == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	return n
}

func (c *checker) decompress(path string) ([]byte, int64, error) {
	if c.dec == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, 0, err
		}
		c.dec = dec
	}
	comp, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	stored := int64(len(comp))
	if c.ids != nil {
		r, err := age.Decrypt(bytes.NewReader(comp), c.ids...)
		if err != nil {
			return nil, stored, fmt.Errorf("age: %w", err)
		}
		if comp, err = io.ReadAll(r); err != nil {
			return nil, stored, fmt.Errorf("age: %w", err)
		}
	}
	out, err := c.dec.DecodeAll(comp, nil)
	return out, stored, err
}

func readIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return age.ParseIdentities(f)
}

// ageKeygen writes an identity and its recipient into dir, once.
func ageKeygen(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "identity.txt")); err == nil {
		return nil
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "recipients.txt"), []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "identity.txt"), []byte(id.String()+"\n"), 0o600)
}

// sampleZstd decompresses every few files with the zstd tool as well.
func (c *checker) sampleZstd(path string, want []byte) {
	if c.sample <= 0 || c.sampled >= c.sample {
		return
	}
	c.zstdSampleCursor++
	if c.zstdSampleCursor%7 != 1 {
		return
	}
	out, err := exec.Command("zstd", "-q", "-d", "-c", path).Output()
	c.sampled++
	if err != nil {
		c.problem("%s: zstd -d: %v", path, err)
	} else if !bytes.Equal(out, want) {
		c.problem("%s: zstd -d gives %d bytes that differ from the server's", path, len(out))
	}
}

func (c *checker) pop3(account, refDir string) error {
	entries, err := os.ReadDir(refDir)
	if err != nil {
		return err
	}
	want := map[string]refMessage{}
	for _, e := range entries {
		if uidl, ok := strings.CutSuffix(e.Name(), ".msg"); ok {
			want[uidl] = refMessage{path: filepath.Join(refDir, e.Name())}
		}
	}
	folders, err := loadArchive(account)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range folders {
		if f.name != "INBOX" {
			c.problem("POP3 archive has folder %q; want INBOX only", f.name)
			continue
		}
		c.folders++
		files, err := os.ReadDir(filepath.Join(f.dir, "cur"))
		if err != nil {
			return err
		}
		for _, e := range files {
			fn, err := parseName(e.Name())
			uidl, ok := pop3UIDL(fn.key)
			r, known := want[uidl]
			if err != nil || !ok || !known {
				c.problem("file %s is not a message the server has", e.Name())
				continue
			}
			have[uidl] = true
			c.compareFile(f, filepath.Join(f.dir, "cur", e.Name()), fn, r)
		}
	}
	for uidl := range want {
		if !have[uidl] {
			c.problem("UIDL %s is missing from the archive", uidl)
		}
	}
	return nil
}

// pop3UIDL returns the UIDL of a key p<hex of the UIDL>.
func pop3UIDL(key string) (string, bool) {
	h, ok := strings.CutPrefix(key, "p")
	var b []byte
	if _, err := fmt.Sscanf(h, "%x", &b); err != nil || !ok {
		return "", false
	}
	return string(b), true
}

func (c *checker) trees(wantDir, gotDir string) error {
	want, err := loadRef(wantDir)
	if err != nil {
		return err
	}
	got, err := loadRef(gotDir)
	if err != nil {
		return err
	}
	for name, w := range want {
		c.folders++
		g, ok := got[name]
		if !ok {
			c.problem("folder %q (%d messages) is missing", name, len(w))
			continue
		}
		if err := c.sameMessages(name, w, g); err != nil {
			return err
		}
	}
	return nil
}

// sameMessages compares two folders as multisets of (content, flags, date).
func (c *checker) sameMessages(name string, want, got map[uint32]refMessage) error {
	count := map[string]int{}
	for _, m := range want {
		k, n, err := messageKey(m)
		if err != nil {
			return err
		}
		count[k]++
		c.messages++
		c.raw += n
	}
	for _, m := range got {
		k, _, err := messageKey(m)
		if err != nil {
			return err
		}
		count[k]--
	}
	for k, n := range count {
		if n > 0 {
			c.problem("%s: %d message(s) missing or altered: %s", name, n, k)
		} else if n < 0 {
			c.problem("%s: %d message(s) the source does not have: %s", name, -n, k)
		}
	}
	return nil
}

func messageKey(m refMessage) (string, int64, error) {
	b, err := os.ReadFile(m.path)
	if err != nil {
		return "", 0, err
	}
	return fmt.Sprintf("sha256=%x size=%d flags=%v date=%s", sha256.Sum256(b), len(b), m.flags, sameDate(m.date)), int64(len(b)), nil
}

// sameDate spells an INTERNALDATE with a two-digit day: servers may write
// the day with a leading space instead (" 2-Jan-2023"), which means the same.
func sameDate(date string) string {
	t, err := time.Parse(`"_2-Jan-2006 15:04:05 -0700"`, date)
	if err != nil {
		return date
	}
	return t.Format(`"02-Jan-2006 15:04:05 -0700"`)
}

// decodeMUTF7 decodes IMAP's modified UTF-7 (RFC 3501 5.1.3).
func decodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		j := strings.IndexByte(s, '-')
		if j < 0 {
			return "", fmt.Errorf("unterminated modified UTF-7 in %q", s)
		}
		if j == 0 {
			b.WriteByte('&')
		} else {
			raw, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(s[:j], ",", "/"))
			if err != nil || len(raw)%2 != 0 {
				return "", fmt.Errorf("bad modified UTF-7 %q", s[:j])
			}
			u := make([]uint16, len(raw)/2)
			for k := range u {
				u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
			}
			b.WriteString(string(utf16.Decode(u)))
		}
		s = s[j+1:]
	}
	return b.String(), nil
}

// mbox checks an mbox export against a reference tree.
func (c *checker) mbox(dir, refDir string) error {
	files := 0
	err := filepath.WalkDir(refDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "index.tsv" {
			return err
		}
		rel, _ := filepath.Rel(refDir, filepath.Dir(p))
		want, err := readIndex(filepath.Dir(p))
		if err != nil {
			return err
		}
		files++
		return c.mboxFolder(filepath.Join(dir, rel+".mbox"), want)
	})
	if err != nil {
		return err
	}
	var mboxes int
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mbox") {
			mboxes++
		}
		return err
	})
	if mboxes != files {
		c.problem("%d mbox files, want %d", mboxes, files)
	}
	return nil
}

// mboxFolder compares one mbox with a reference folder, as multisets of
// (content, INTERNALDATE).
func (c *checker) mboxFolder(path string, want map[uint32]refMessage) error {
	c.folders++
	count := map[string]int{}
	for _, m := range want {
		b, err := os.ReadFile(m.path)
		if err != nil {
			return err
		}
		date, err := time.Parse(`"_2-Jan-2006 15:04:05 -0700"`, m.date)
		if err != nil {
			return fmt.Errorf("%s: INTERNALDATE %s: %w", m.path, m.date, err)
		}
		if !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
		count[fmt.Sprintf("sha256=%x size=%d date=%s", sha256.Sum256(b), len(b), date.UTC().Format(time.ANSIC))]++
		c.messages++
		c.raw += int64(len(b))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		c.problem("%v", err)
		return nil
	}
	for _, m := range splitMbox(data) {
		count[fmt.Sprintf("sha256=%x size=%d date=%s", sha256.Sum256(m.raw), len(m.raw), m.date)]--
	}
	for k, n := range count {
		if n > 0 {
			c.problem("%s: %d message(s) missing or altered: %s", path, n, k)
		} else if n < 0 {
			c.problem("%s: %d message(s) the server does not have: %s", path, -n, k)
		}
	}
	return nil
}

type mboxMessage struct {
	date string // from the "From " line
	raw  []byte // un-quoted
}

// splitMbox reads an mboxrd file: a message begins after a line "From
// <sender> <asctime>", and the empty line before the next one (or the end)
// is not part of it; one '>' is removed from lines matching ^>+From .
func splitMbox(data []byte) []mboxMessage {
	var out []mboxMessage
	var cur *mboxMessage
	lines := bytes.SplitAfter(data, []byte("\n"))
	end := func() {
		if cur == nil {
			return
		}
		cur.raw = bytes.TrimSuffix(cur.raw, []byte("\n"))
		out = append(out, *cur)
	}
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("From ")) {
			end()
			f := strings.SplitN(strings.TrimSpace(string(l)), " ", 3)
			cur = &mboxMessage{}
			if len(f) == 3 {
				cur.date = f[2]
			}
			continue
		}
		if cur == nil {
			continue
		}
		t := bytes.TrimLeft(l, ">")
		if len(t) < len(l) && bytes.HasPrefix(t, []byte("From ")) {
			l = l[1:]
		}
		cur.raw = append(cur.raw, l...)
	}
	end()
	return out
}
