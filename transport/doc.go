// Package transport opens authenticated connections to mail servers: TLS
// modes (implicit, STARTTLS, none) with verified certificates, SASL or LOGIN
// authentication, and connections that close when their context ends. It
// also tells temporary failures (worth a retry) from permanent ones.
package transport
