package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailkeep/mailkeep/archive"
)

// session is one IMAP connection: a thin layer between go-imap's server
// and the account's Snapshot. The writing commands come from readOnly,
// which refuses them all.
type session struct {
	readOnly
	srv    *Server
	conn   *imapserver.Conn
	log    *slog.Logger
	ctx    context.Context // ends when the connection does
	cancel context.CancelFunc

	account string
	snap    *archive.Snapshot
	run     int64  // the view's run; 0: latest
	base    uint32 // the catalog's first run's start, for derived UIDVALIDITYs
	boxes   *tree  // the folders as last read
	sel     *view
	folders map[int64]*archive.Folder // opened Maildirs, by folder id
	parts   partCache
}

var (
	_ imapserver.Session          = (*session)(nil)
	_ imapserver.SessionNamespace = (*session)(nil)
	_ imapserver.SessionMove      = (*session)(nil)
)

func newSession(srv *Server, c *imapserver.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	remote := c.NetConn().RemoteAddr().String()
	s := &session{srv: srv, conn: c, ctx: ctx, cancel: cancel, log: srv.log.With("remote", remote),
		folders: map[int64]*archive.Folder{}}
	s.log.Debug("session opened")
	return s
}

func (s *session) Close() error {
	s.cancel()
	if s.snap != nil {
		s.snap.Close()
	}
	s.srv.sessionClosed()
	s.log.Debug("session closed")
	return nil
}

// Login accepts the name of a served account and the server's password.
// A refused login waits Options.LoginDelay, one after another across
// sessions, and is logged without the password.
func (s *session) Login(username, password string) error {
	name := strings.ToLower(username)
	known := slices.Contains(s.srv.opts.Accounts, name)
	good := subtle.ConstantTimeCompare([]byte(password), []byte(s.srv.opts.Password)) == 1
	if !known || !good {
		return s.refuse(username, known)
	}
	s.observe(true)
	snap, run, err := s.srv.open(s.ctx, name)
	if err != nil {
		s.log.Warn("login: the archive cannot be served", "account", name, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: unavailable(err)}
	}
	s.account, s.snap, s.run = name, snap, run
	if first, ok, err := snap.FirstRun(s.ctx); err == nil && ok {
		s.base = uint32(max(first.Started.Unix(), 1))
	}
	s.log = s.log.With("account", name)
	s.log.Info("login")
	return nil
}

func (s *session) refuse(username string, known bool) error {
	if len(username) > 64 {
		username = username[:64] + "…"
	}
	s.log.Warn("login refused", "user", username, "known_account", known)
	s.observe(false)
	s.srv.refused.Lock()
	defer s.srv.refused.Unlock()
	select {
	case <-time.After(s.srv.opts.LoginDelay):
	case <-s.ctx.Done():
	}
	return imapserver.ErrAuthFailed
}

func (s *session) observe(ok bool) {
	if o := s.srv.opts.Observer; o != nil {
		o.Login(ok)
	}
}

func unavailable(err error) string {
	if errors.Is(err, archive.ErrNoArchive) {
		return "This account has no archive yet: no backup of it has run"
	}
	return "The archive of this account cannot be read now"
}

// open opens an account's Snapshot and finds the run it is served as of.
func (srv *Server) open(ctx context.Context, name string) (*archive.Snapshot, int64, error) {
	snap, err := srv.opts.Open(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	run := srv.runs[name]
	if run < 0 { // the archive appeared after the server started
		r, err := snap.Resolve(ctx, srv.opts.AsOf)
		if err != nil {
			snap.Close()
			return nil, 0, err
		}
		run = r.ID
	}
	return snap, run, nil
}

// tree returns the account's folders as the view has them: read anew
// when fresh (LIST, NAMESPACE), else as last read.
func (s *session) tree(fresh bool) (*tree, error) {
	if s.boxes != nil && !fresh {
		return s.boxes, nil
	}
	folders, err := s.snap.Folders(s.ctx, archive.View{Run: s.run})
	if err != nil {
		return nil, s.fail("list folders", err)
	}
	s.boxes = newTree(folders)
	return s.boxes, nil
}

// mailbox finds a mailbox by name; a name the folders as last read lack
// reads them anew (a backup may have added the folder since).
func (s *session) mailbox(name string) (*tree, *mailbox, error) {
	t, err := s.tree(false)
	if err != nil {
		return nil, nil, err
	}
	if t.lookup(name) == nil {
		if t, err = s.tree(true); err != nil {
			return nil, nil, err
		}
	}
	return t, t.lookup(name), nil
}

// fail logs an error reading the archive and answers NO.
func (s *session) fail(what string, err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return err
	}
	s.log.Error(what, "err", err)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug,
		Text: "The archive could not be read: " + what}
}

func (s *session) load(name string) (*view, error) {
	t, _, err := s.mailbox(name)
	if err != nil {
		return nil, err
	}
	b, err := t.selectable(name)
	if err != nil {
		return nil, err
	}
	v, err := loadView(s.ctx, s.snap, b, s.run, s.base)
	if err != nil {
		return nil, s.fail("read folder "+b.name, err)
	}
	return v, nil
}

// Select reads the folder once: the session sees that state until it
// selects again. Every SELECT is answered as EXAMINE: [READ-ONLY].
func (s *session) Select(name string, o *imap.SelectOptions) (*imap.SelectData, error) {
	v, err := s.load(name)
	if err != nil {
		return nil, err
	}
	o.ReadOnly = true
	s.sel = v
	return v.selectData(), nil
}

func (s *session) Unselect() error {
	s.sel = nil
	return nil
}

func (s *session) Status(name string, o *imap.StatusOptions) (*imap.StatusData, error) {
	v, err := s.load(name)
	if err != nil {
		return nil, err
	}
	return v.status(name, o)
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	t, err := s.tree(true)
	if err != nil {
		return nil, err
	}
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: t.delim}}}, nil
}

// List answers LIST and LSUB. Every folder that can be selected counts
// as subscribed.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, o *imap.ListOptions) error {
	t, err := s.tree(true)
	if err != nil {
		return err
	}
	if len(patterns) == 0 { // LIST "" "": the hierarchy delimiter
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: t.delim})
	}
	m, err := newMatcher(t, ref, patterns)
	if err != nil {
		return err
	}
	for _, b := range t.boxes {
		if !m.match(b.name) {
			continue
		}
		d, err := s.listData(t, b, o)
		if err != nil {
			return err
		}
		if d != nil {
			if err := w.WriteList(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// listData is one mailbox's LIST answer; nil when the options leave it out.
func (s *session) listData(t *tree, b *mailbox, o *imap.ListOptions) (*imap.ListData, error) {
	d := &imap.ListData{Mailbox: b.name, Delim: t.delim, Attrs: b.attrs()}
	subscribed := !b.noselect
	switch {
	case o.SelectSpecialUse:
		return nil, nil // the archive records no special use
	case o.SelectSubscribed && !subscribed && o.SelectRecursiveMatch && b.children:
		d.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		return d, nil
	case o.SelectSubscribed && !subscribed:
		return nil, nil
	}
	if subscribed && (o.SelectSubscribed || o.ReturnSubscribed) {
		d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
	}
	if o.ReturnStatus != nil && !b.noselect {
		v, err := loadView(s.ctx, s.snap, b, s.run, s.base)
		if err != nil {
			return nil, s.fail("read folder "+b.name, err)
		}
		if d.Status, err = v.status(b.name, o.ReturnStatus); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Poll and Idle report nothing: a session keeps the state it selected.
func (s *session) Poll(*imapserver.UpdateWriter, bool) error { return nil }

func (s *session) Idle(_ *imapserver.UpdateWriter, stop <-chan struct{}) error {
	select {
	case <-stop:
	case <-s.ctx.Done():
	}
	return nil
}

// folder returns the opened Maildir of a folder of the account: one of
// the tree, or (for a message of Gone) any folder the catalog knows.
func (s *session) folder(id int64) (*archive.Folder, error) {
	if f, ok := s.folders[id]; ok {
		return f, nil
	}
	st, err := s.folderState(id)
	if err != nil {
		return nil, err
	}
	f, err := s.snap.Folder(st)
	if err != nil {
		return nil, err
	}
	s.folders[id] = f
	return f, nil
}

func (s *session) folderState(id int64) (archive.FolderState, error) {
	if s.boxes != nil {
		for _, b := range s.boxes.boxes {
			if b.folder != nil && b.folder.ID == id {
				return b.folder.FolderState, nil
			}
		}
	}
	folders, err := s.snap.Folders(s.ctx, archive.View{Gone: archive.GoneToo})
	if err != nil {
		return archive.FolderState{}, err
	}
	for _, f := range folders {
		if f.ID == id {
			return f.FolderState, nil
		}
	}
	return archive.FolderState{}, errors.New("a message's folder is not in the catalog")
}
