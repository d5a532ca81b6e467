package ingest

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows a long load on a terminal: percent of bytes read and rows per second,
// redrawn on one line. A disabled Progress (standard error is not a terminal, or --json)
// counts but prints nothing.
type Progress struct {
	w       io.Writer
	label   string
	size    int64
	read    atomic.Int64
	rows    atomic.Int64
	start   time.Time
	stop    chan struct{}
	done    sync.WaitGroup
	enabled bool
}

// NewProgress starts a progress line on w for a source of size bytes; enabled false
// keeps it silent.
func NewProgress(w io.Writer, enabled bool, label string, size int64) *Progress {
	p := &Progress{w: w, label: label, size: size, start: time.Now(), stop: make(chan struct{}), enabled: enabled}
	if enabled {
		p.done.Add(1)
		go p.loop()
	}
	return p
}

// Reader counts the bytes read through r.
func (p *Progress) Reader(r io.Reader) io.Reader { return &countingReader{r: r, n: &p.read} }

// AddRows counts rows loaded.
func (p *Progress) AddRows(n int64) { p.rows.Add(n) }

// Rows returns the rows counted so far.
func (p *Progress) Rows() int64 { return p.rows.Load() }

// Done stops the display and clears its line.
func (p *Progress) Done() {
	if !p.enabled {
		return
	}
	close(p.stop)
	p.done.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *Progress) loop() {
	defer p.done.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *Progress) draw() {
	el := time.Since(p.start).Seconds()
	rows := p.rows.Load()
	pct := 100.0
	if p.size > 0 {
		pct = 100 * float64(p.read.Load()) / float64(p.size)
	}
	rate := 0.0
	if el > 0 {
		rate = float64(rows) / el
	}
	fmt.Fprintf(p.w, "\r%s: %5.1f%%  %d rows  %.0f rows/s  %.1fs ", p.label, pct, rows, rate, el)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
