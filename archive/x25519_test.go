package archive

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestX25519Recipient: what x25519Recipient encrypts, age's own X25519
// identities decrypt, for many keys, alone and beside age's recipients;
// its stanza has the shape of age's.
func TestX25519Recipient(t *testing.T) {
	msg := make([]byte, 70<<10)
	rand.Read(msg)
	for range 200 {
		id, _ := age.GenerateX25519Identity()
		other, _ := age.GenerateX25519Identity()
		fast := fastRecipients([]age.Recipient{id.Recipient(), other.Recipient()})
		if _, ok := fast[0].(*x25519Recipient); !ok {
			t.Fatalf("%s was not converted", id.Recipient())
		}
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, fast[0], other.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(msg)
		w.Close()
		for _, i := range []age.Identity{id, other} {
			r, err := age.Decrypt(bytes.NewReader(buf.Bytes()), i)
			if err != nil {
				t.Fatalf("%s: %v", id.Recipient(), err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s: round trip: %v", id.Recipient(), err)
			}
		}
		s, err := fast[1].Wrap(make([]byte, 16))
		if err != nil || len(s) != 1 || s[0].Type != "X25519" || len(s[0].Args) != 1 || len(s[0].Args[0]) != 43 || len(s[0].Body) != 32 {
			t.Fatalf("stanza %+v, %v", s, err)
		}
	}
}

// TestBech32Decode: the public key decoded from a recipient is the one
// crypto/ecdh derives from the private key decoded from its identity; and
// anything else does not decode.
func TestBech32Decode(t *testing.T) {
	for range 100 {
		id, _ := age.GenerateX25519Identity()
		pub, err := bech32Decode("age", id.Recipient().String())
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := bech32Decode("age-secret-key-", strings.ToLower(id.String()))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ecdh.X25519().NewPrivateKey(scalar)
		if err != nil || !bytes.Equal(priv.PublicKey().Bytes(), pub) {
			t.Fatalf("%s: public key %x, from the identity %x", id.Recipient(), pub, priv.PublicKey().Bytes())
		}
	}
	id, _ := age.GenerateX25519Identity()
	good := id.Recipient().String()
	other := "q"
	if good[10] == 'q' {
		other = "p"
	}
	for _, bad := range []string{"", "age1", "age", good[:len(good)-1], good[:10] + other + good[11:], "abc" + good[3:],
		strings.ToUpper(good), good[:20] + "b" + good[21:], "age1qqqqqq", good + "q"} {
		if _, err := bech32Decode("age", bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func BenchmarkWrap(b *testing.B) {
	id, _ := age.GenerateX25519Identity()
	key := make([]byte, 16)
	for _, r := range []age.Recipient{id.Recipient(), fastRecipients([]age.Recipient{id.Recipient()})[0]} {
		name := "age"
		if _, ok := r.(*x25519Recipient); ok {
			name = "mailkeep"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				r.Wrap(key)
			}
		})
	}
}
