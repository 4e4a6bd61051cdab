package serve

import (
	"mime"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// BODYSTRUCTURE and ENVELOPE from a parsed structure, with Dovecot's
// defaults (lib-imap/imap-bodystructure.c): a part without a type is
// text/plain, a text part without a charset gets charset us-ascii, the
// encoding defaults to 7bit, a multipart without parts gets one empty
// text/plain part.

func bodyStructure(pt *part) imap.BodyStructure {
	if pt.kind == multipartPart {
		return multipartStructure(pt)
	}
	c := pt.content()
	bs := &imap.BodyStructureSinglePart{
		Type: c.typ, Subtype: c.subtype, Params: c.params, ID: c.id, Description: c.description,
		Encoding: c.encoding, Size: uint32(pt.end - pt.body),
		Extended: &imap.BodyStructureSinglePartExt{Disposition: c.disposition, Language: c.language, Location: c.location},
	}
	switch {
	case pt.kind == messagePart:
		child := pt.children[0]
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{Envelope: envelope(child.header),
			BodyStructure: bodyStructure(child), NumLines: pt.lines}
	case strings.EqualFold(c.typ, "text"):
		bs.Text = &imap.BodyStructureText{NumLines: pt.lines}
	}
	return bs
}

func multipartStructure(pt *part) imap.BodyStructure {
	c := pt.content()
	bs := &imap.BodyStructureMultiPart{Subtype: c.subtype,
		Extended: &imap.BodyStructureMultiPartExt{Params: c.params, Disposition: c.disposition,
			Language: c.language, Location: c.location}}
	for _, child := range pt.children {
		bs.Children = append(bs.Children, bodyStructure(child))
	}
	if len(bs.Children) == 0 {
		bs.Children = []imap.BodyStructure{&imap.BodyStructureSinglePart{Type: "text", Subtype: "plain",
			Params: map[string]string{"charset": "us-ascii"}, Encoding: "7bit", Text: &imap.BodyStructureText{},
			Extended: &imap.BodyStructureSinglePartExt{}}}
	}
	return bs
}

// content is what a part's Content-* fields say.
type content struct {
	typ, subtype    string
	params          map[string]string
	id, description string
	encoding        string
	disposition     *imap.BodyStructureDisposition
	language        []string
	location        string
}

func (pt *part) content() content {
	var c content
	if pt.isMIME() {
		c.read(pt.header)
	}
	switch {
	case pt.kind == messagePart:
		c.typ, c.subtype = "message", "rfc822"
	case pt.kind == multipartPart && c.subtype == "":
		c.subtype = "x-unknown"
	case c.typ == "":
		c.typ, c.subtype = "text", "plain"
	case c.subtype == "" && strings.EqualFold(c.typ, "text"):
		c.subtype = "plain"
	case c.subtype == "":
		c.subtype = "unknown"
	}
	if strings.EqualFold(c.typ, "text") && !hasParam(c.params, "charset") {
		if c.params == nil {
			c.params = map[string]string{}
		}
		c.params["charset"] = "us-ascii"
	}
	if c.encoding == "" {
		c.encoding = "7bit"
	}
	return c
}

func hasParam(params map[string]string, name string) bool {
	for k := range params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// read takes the first of each Content-* field.
func (c *content) read(header []byte) {
	seen := map[string]bool{}
	fields(header, func(name string, value []byte) bool {
		name = strings.ToLower(name)
		if !strings.HasPrefix(name, "content-") || seen[name] {
			return true
		}
		seen[name] = true
		v := strings.TrimSpace(string(value))
		switch name {
		case "content-type":
			c.contentType(v)
		case "content-transfer-encoding":
			c.encoding = firstToken(v)
		case "content-id":
			c.id = v
		case "content-description":
			c.description = v
		case "content-disposition":
			if d, params, err := mime.ParseMediaType(v); d != "" && (err == nil || err == mime.ErrInvalidMediaParameter) {
				c.disposition = &imap.BodyStructureDisposition{Value: d, Params: params}
			}
		case "content-language":
			for _, l := range strings.Split(v, ",") {
				if l = strings.TrimSpace(l); l != "" {
					c.language = append(c.language, l)
				}
			}
		case "content-location":
			c.location = v
		}
		return true
	})
}

func (c *content) contentType(v string) {
	t, params, err := mime.ParseMediaType(v)
	if err != nil && err != mime.ErrInvalidMediaParameter {
		return
	}
	c.typ, c.subtype, _ = strings.Cut(t, "/")
	if len(params) > 0 {
		c.params = params
	}
}

// firstToken is the MIME token a field value begins with.
func firstToken(v string) string {
	end := strings.IndexFunc(v, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
	})
	if end < 0 {
		return v
	}
	return v[:end]
}

// envelope is the ENVELOPE of a message header. go-imap writes the
// subject and the message identifiers from the values it is given: they
// are the header's own, so that they reach the client as the server sent
// them (go-message would drop a Message-ID it finds malformed).
func envelope(header []byte) *imap.Envelope {
	type kv struct{ k, v string }
	var all []kv
	fields(header, func(name string, value []byte) bool {
		all = append(all, kv{name, string(value)})
		return true
	})
	var h textproto.Header
	for _, f := range slices.Backward(all) { // Add puts a field before earlier ones of its name
		h.Add(f.k, f.v)
	}
	env := imapserver.ExtractEnvelope(h)
	env.Subject = strings.TrimRight(h.Get("Subject"), " \t")
	env.MessageID = msgID(h.Get("Message-Id"))
	env.InReplyTo = nil
	if id := msgID(h.Get("In-Reply-To")); id != "" {
		env.InReplyTo = []string{id}
	}
	return env
}

// msgID is a field value without its outer angle brackets, which go-imap
// writes back.
func msgID(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">") {
		return v[1 : len(v)-1]
	}
	return v
}
