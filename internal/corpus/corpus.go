package corpus

import (
	"math/rand/v2"
	"path"
	"slices"
	"time"
)

// Message is one test message and where and how it is stored.
type Message struct {
	// Folder is the decoded folder name with "/" as hierarchy separator,
	// for example "Archive/2024".
	Folder string
	// Raw is the exact RFC 5322 message with CRLF line ends.
	Raw []byte
	// Flags are IMAP flags and keywords such as `\Seen` and `Projekt-X`,
	// sorted; never `\Recent`.
	Flags []string
	// Date is the INTERNALDATE: whole seconds, often in a non-UTC zone.
	Date time.Time

	// folders lists every folder of the corpus, including those left
	// empty, so that Folders and Load can create them. Because of it,
	// compare Messages field by field, not with reflect.DeepEqual.
	folders []string
}

// Options select a corpus. The zero value is a corpus of special messages
// only, in the default folders.
type Options struct {
	Seed int64
	// Count is the number of ordinary messages spread over the folders.
	Count int
	// Big, if positive, adds one INBOX message of about Big bytes (a base64
	// attachment).
	Big int64
	// Folders are the folder names, "/"-separated; nil means DefaultFolders.
	// A folder whose last component is "Empty" gets no messages.
	Folders []string
}

// DefaultFolders are the folders of a corpus without Options.Folders.
var DefaultFolders = []string{
	"INBOX", "Archive", "Archive/2024", "Entwürfe", "R&D", "Sent", "Отчёты", "Empty",
}

// Generate returns the corpus selected by opts: the special messages, then
// opts.Count ordinary messages, then the big message if opts.Big > 0.
func Generate(opts Options) []Message {
	g := newGenerator(opts)
	msgs := g.specials()
	for i := range opts.Count {
		msgs = append(msgs, g.ordinary(i))
	}
	if opts.Big > 0 {
		msgs = append(msgs, g.big(opts.Big))
	}
	return msgs
}

// More returns n ordinary messages that Generate(opts) does not contain:
// numbers opts.Count+offset onwards, so More(opts, 5, 0) followed by
// More(opts, 5, 5) equals More(opts, 10, 0).
func More(opts Options, n int, offset int) []Message {
	g := newGenerator(opts)
	msgs := make([]Message, 0, max(n, 0))
	for i := range n {
		msgs = append(msgs, g.ordinary(opts.Count+offset+i))
	}
	return msgs
}

// Folders returns the distinct folder names of msgs, including the folders
// their corpus left empty, sorted (so a parent comes before its children).
func Folders(msgs []Message) []string {
	var names []string
	for _, m := range msgs {
		names = append(names, m.Folder)
		names = append(names, m.folders...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// generator builds the messages of one corpus. Each message draws from its
// own random source, seeded by the corpus seed and the message's number, so
// messages do not depend on each other or on Count.
type generator struct {
	seed    uint64
	folders []string // all folders
	filled  []string // folders that receive ordinary messages
}

func newGenerator(opts Options) *generator {
	folders := opts.Folders
	if folders == nil {
		folders = DefaultFolders
	}
	g := &generator{seed: uint64(opts.Seed), folders: slices.Clone(folders)}
	for _, f := range folders {
		if path.Base(f) != "Empty" {
			g.filled = append(g.filled, f)
		}
	}
	if len(g.filled) == 0 {
		g.filled = []string{"INBOX"}
	}
	return g
}

// rand returns the random source of message number n.
func (g *generator) rand(n uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, n))
}

// specialBase numbers the special messages apart from ordinary ones.
const specialBase = 1 << 62
