package archive

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Each message file needs its own age header, so a backup pays one key
// exchange per recipient and message. age's X25519Recipient.Wrap (age
// 1.3.2) computes it with two calls of x/crypto's curve25519.X25519, each
// of which goes through crypto/ecdh's NewPrivateKey and so also derives a
// public key that it throws away: four X25519 scalar multiplications per
// file where two do. On the benchmark's corpus they were most of what
// encryption costs a backup. x25519Recipient writes the same stanza (age
// v1's X25519 recipient type, https://age-encryption.org/v1) with two,
// using the same primitives; any age X25519 identity unwraps it.

// x25519Label is the HKDF info of age's X25519 stanza.
const x25519Label = "age-encryption.org/v1/X25519"

// x25519Recipient is an age X25519 recipient.
type x25519Recipient struct{ theirs *ecdh.PublicKey }

var _ age.Recipient = (*x25519Recipient)(nil)

// fastRecipients returns recipients that encrypt to the same keys as rs:
// each X25519 recipient as an x25519Recipient, any other as it is.
func fastRecipients(rs []age.Recipient) []age.Recipient {
	out := make([]age.Recipient, len(rs))
	for i, r := range rs {
		out[i] = r
		if x, ok := r.(*age.X25519Recipient); ok {
			if f, err := newX25519Recipient(x); err == nil {
				out[i] = f
			}
		}
	}
	return out
}

func newX25519Recipient(r *age.X25519Recipient) (*x25519Recipient, error) {
	raw, err := bech32Decode("age", r.String())
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(raw)
	if err != nil {
		return nil, err
	}
	return &x25519Recipient{theirs: pub}, nil
}

// Wrap wraps fileKey for the recipient: a fresh ephemeral key pair, the
// shared secret with the recipient's key, a wrapping key from HKDF-SHA-256
// over it (salt: both public keys; info: x25519Label), and ChaCha20-Poly1305
// with a zero nonce over the file key, which that key wraps only once.
func (r *x25519Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(r.theirs) // an all-zero secret (a low-order point) is an error
	if err != nil {
		return nil, err
	}
	ours, theirs := eph.PublicKey().Bytes(), r.theirs.Bytes()
	salt := make([]byte, 0, len(ours)+len(theirs))
	salt = append(append(salt, ours...), theirs...)
	key, err := hkdf.Key(sha256.New, shared, salt, x25519Label, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{Type: "X25519", Args: []string{base64.RawStdEncoding.EncodeToString(ours)}, Body: body}}, nil
}

// bech32Charset is Bech32's alphabet (BIP 173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var errBech32 = errors.New("not a valid Bech32 string")

// bech32Decode returns the data of the Bech32 string s (BIP 173, as age
// writes its keys) whose human-readable part is hrp.
func bech32Decode(hrp, s string) ([]byte, error) {
	if strings.ToLower(s) != s {
		return nil, errBech32 // age writes recipients in lower case
	}
	i := strings.LastIndexByte(s, '1')
	if i < 0 || s[:i] != hrp || len(s)-i-1 < 6 {
		return nil, errBech32
	}
	values := make([]byte, 0, len(s)-i-1)
	for _, c := range []byte(s[i+1:]) {
		v := strings.IndexByte(bech32Charset, c)
		if v < 0 {
			return nil, errBech32
		}
		values = append(values, byte(v))
	}
	if bech32Polymod(append(bech32HRP(hrp), values...)) != 1 {
		return nil, errBech32
	}
	return regroup(values[:len(values)-6])
}

func bech32HRP(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for _, c := range []byte(hrp) {
		out = append(out, c>>5)
	}
	out = append(out, 0)
	for _, c := range []byte(hrp) {
		out = append(out, c&31)
	}
	return out
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range gen {
			if top>>i&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// regroup turns 5-bit groups into bytes; the bits left over must be fewer
// than five and zero.
func regroup(values []byte) ([]byte, error) {
	var out []byte
	acc, bits := uint32(0), 0
	for _, v := range values {
		acc = (acc<<5 | uint32(v)) & 0xfff
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return nil, errBech32
	}
	return out, nil
}
