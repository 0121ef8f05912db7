package engine

import (
	"sync"

	"gongdan/core/routing"
	"gongdan/core/store"
)

// traces keeps a batch's routing decisions until the end of its transaction, and has their
// JSON written on another goroutine meanwhile: a trace of a team of 20 is some 5 KB of JSON,
// and the committer, which everything else waits for, goes on to the next request instead.
// The rows go into the batch's own transaction (flush), in the order the decisions were made,
// so a decision is durable exactly when its ticket is.
//
// Only the committer calls its methods; the encoder goroutine touches a job only between
// add sending it and wait returning.
type traces struct {
	jobs chan *traceJob // to the encoder
	wg   sync.WaitGroup // jobs sent and not yet encoded
	// batch holds this batch's jobs in decision order; spare the jobs free for reuse (their
	// decisions and buffers, which the next decisions take over).
	batch, spare []*traceJob
}

// traceJob is one decision to keep. rec.Body is set by the encoder unless the job came with
// a body of its own (a manual assignment's).
type traceJob struct {
	rec   store.RoutingRecord
	d     routing.Decision
	extra []byte // JSON members appended to the trace's object, without braces
	buf   []byte
	wg    *sync.WaitGroup
}

func newTraces() *traces {
	t := &traces{jobs: make(chan *traceJob, 256)}
	go func() {
		for j := range t.jobs {
			j.buf = j.d.AppendJSON(j.buf[:0], j.extra)
			j.rec.Body = j.buf
			j.wg.Done()
		}
	}()
	return t
}

// next returns a job for the next decision: its Decision is the memory Decide may reuse.
func (t *traces) next() *traceJob {
	if n := len(t.spare); n > 0 {
		j := t.spare[n-1]
		t.spare = t.spare[:n-1]
		return j
	}
	return &traceJob{}
}

// drop returns a job that was taken with next and not added.
func (t *traces) drop(j *traceJob) { t.spare = append(t.spare, j) }

// add keeps j's decision with rec, encoding it on the encoder goroutine. j.d must not change
// from now until the batch settles.
func (t *traces) add(j *traceJob, rec store.RoutingRecord, extra []byte) {
	j.rec, j.extra, j.wg = rec, append(j.extra[:0], extra...), &t.wg
	t.batch = append(t.batch, j)
	t.wg.Add(1)
	t.jobs <- j
}

// addRecord keeps a decision that has its body already (a manual assignment).
func (t *traces) addRecord(rec store.RoutingRecord) {
	j := t.next()
	j.rec = rec
	t.batch = append(t.batch, j)
}

// mark is where the batch's decisions stand, for rollback to drop what came after.
func (t *traces) mark() int { return len(t.batch) }

// rollback forgets the decisions kept since m: their request is being applied again.
func (t *traces) rollback(m int) {
	t.wg.Wait() // the encoder may still hold them
	t.spare = append(t.spare, t.batch[m:]...)
	t.batch = t.batch[:m]
}

// flush writes the batch's decisions into tx, in order, once they are encoded.
func (t *traces) flush(tx store.Tx) error {
	t.wg.Wait()
	for _, j := range t.batch {
		if err := tx.PutRoutingDecision(j.rec); err != nil {
			return err
		}
	}
	return nil
}

// settle makes the batch's jobs spare, once the encoder is done with them.
func (t *traces) settle() {
	t.wg.Wait()
	for _, j := range t.batch {
		j.rec = store.RoutingRecord{}
	}
	t.spare = append(t.spare, t.batch...)
	t.batch = t.batch[:0]
}

// close stops the encoder; the committer must have stopped.
func (t *traces) close() { close(t.jobs) }
