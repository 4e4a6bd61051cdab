package corpus_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/mailkeep/mailkeep/internal/corpus"
)

// TestMessagesAreValidMIME parses every message that has a body with the
// standard library and decodes every part.
func TestMessagesAreValidMIME(t *testing.T) {
	for i, m := range corpus.Generate(corpus.Options{Seed: 12, Count: 200, Big: 256 << 10}) {
		if !bytes.Contains(m.Raw, []byte("\r\n\r\n")) {
			continue // the message without a body separator
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err == nil {
			err = decodeEntity(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		}
		if err != nil {
			t.Errorf("message %d (%s): %v", i, subject(m), err)
		}
	}
}

func decodeEntity(contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mediaType, err = "text/plain", nil
	}
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		return decodeParts(multipart.NewReader(body, params["boundary"]))
	}
	switch strings.ToLower(encoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "", "7bit", "8bit":
	default:
		return fmt.Errorf("unknown transfer encoding %q", encoding)
	}
	_, err = io.Copy(io.Discard, body)
	return err
}

// decodeParts decodes each part; multipart.Reader already undoes
// quoted-printable.
func decodeParts(r *multipart.Reader) error {
	for n := 0; ; n++ {
		p, err := r.NextPart()
		if err == io.EOF {
			if n == 0 {
				return fmt.Errorf("multipart without parts")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := decodeEntity(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
			return err
		}
	}
}
