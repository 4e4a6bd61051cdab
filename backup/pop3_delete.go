package backup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mailkeep/mailkeep/archive"
)

// markDeletions marks for deletion (DELE) the listed messages that may go:
// in delete mode every archived one, in keep mode with DeleteAfterDays
// those archived longer ago than that. Messages stored in this session
// are durable by now: the last batch has been committed. Messages stored
// by earlier runs are marked only if their file checks out (see verify).
// The marks take effect at QUIT.
func (s *pop3Session) markDeletions(ctx context.Context) error {
	keys := s.deletable()
	if len(keys) == 0 {
		return nil
	}
	nums := make([]int, 0, len(keys))
	for num := range keys {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	return s.c.DeleEach(ctx, nums, func(num int, err error) {
		if err != nil {
			s.st.fail(err)
			return
		}
		s.marked = append(s.marked, keys[num])
		if s.markedNums == nil {
			s.markedNums = map[int]bool{}
		}
		s.markedNums[num] = true
	})
}

// deletable returns the listed messages to delete, by number, with their
// keys.
func (s *pop3Session) deletable() map[int]string {
	keys := map[int]string{}
	if s.opts.Delete {
		for num, key := range s.fresh {
			keys[num] = key
		}
	}
	cutoff := s.start.Add(-time.Duration(s.opts.DeleteAfterDays) * 24 * time.Hour)
	for num, m := range s.old {
		old := s.opts.DeleteAfterDays > 0 && !m.Retrieved.IsZero() && m.Retrieved.Before(cutoff)
		if !s.opts.Delete && !old {
			continue
		}
		if err := s.verify(m); err != nil {
			s.st.fail(fmt.Errorf("message %d (%s) stays on the server: %w", num, describeID(m.UIDL), err))
			continue
		}
		keys[num] = m.Key
	}
	return keys
}

// verify checks a message's archived file without the identity
// (archive.Folder.Check): in a plain archive, that it decodes to the size
// and SHA-256 the catalog records; in an encrypted one, that it is the
// file stored then (its SHA-256 as stored).
func (s *pop3Session) verify(m *archive.POP3Message) error {
	if err := s.folder.Check(m.Message); err != nil {
		return fmt.Errorf("archived copy: %w", err)
	}
	return nil
}

// quit ends the session with QUIT. Only when the server answers +OK have
// the marked messages been deleted, and only then does the catalog say so.
func (s *pop3Session) quit(ctx context.Context) error {
	s.ended = true
	if err := s.c.Quit(ctx); err != nil {
		if len(s.marked) > 0 {
			return fmt.Errorf("%w: %w", errQuit, err)
		}
		s.opts.Log.Warn("POP3 QUIT failed; nothing was marked for deletion", "err", err)
		return nil
	}
	if len(s.marked) == 0 {
		return nil
	}
	// The server has deleted them: record it even if ctx ended meanwhile.
	ctx = context.WithoutCancel(ctx)
	if err := s.a.Catalog.MarkServerDeleted(ctx, s.state.ID, s.marked, s.run); err != nil {
		return fatal(err)
	}
	if l := s.leftListing(); l != nil {
		if err := s.a.Catalog.SetPOP3Listing(ctx, l); err != nil {
			return fatal(err)
		}
	}
	s.opts.Log.Info("deleted archived messages from the server", "messages", len(s.marked))
	n := len(s.marked)
	s.st.add(func(st *archive.RunStats) { st.ServerDeleted += n })
	return nil
}
