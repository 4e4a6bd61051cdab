package restore

// SetSendPage makes the restore read the rows it sends n at a time, so
// that a test crosses pages with few messages; the returned function
// restores the size.
func SetSendPage(n int) func() {
	was := sendPage
	sendPage = n
	return func() { sendPage = was }
}
