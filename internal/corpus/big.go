package corpus

// bigOverhead is roughly what headers and the text part add to the
// attachment of the big message.
const bigOverhead = 1 << 10

// big returns an INBOX message of about size bytes, most of it one base64
// attachment.
func (g *generator) big(size int64) Message {
	r := g.rand(specialBase - 1)
	date := randomDate(r)
	w := &writer{}
	w.Grow(int(size) + bigOverhead)
	g.specialEnvelope(w, special{subject: "Big message"}, date)
	w.header("MIME-Version", "1.0")
	payload := max(size-bigOverhead, 0) * 57 / 78 // base64 lines: 57 bytes → 76 chars + CRLF
	withAttachment(w, r, -1, int(payload))
	return g.inInbox(w, []string{`\Seen`}, date)
}
