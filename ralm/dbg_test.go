package ralm
import ("testing";"time";"strconv";"math/rand/v2")
func TestDbgIngest(t *testing.T) {
	s, _ := small(t)
	e := openTest(t, t.TempDir(), Options{})
	defer e.Close()
	rng := rand.New(rand.NewPCG(1,1))
	for r := 0; r < 8; r++ {
		batch := make([]Click, 16000)
		valid := make([]bool, len(batch))
		for i := range batch { batch[i] = Click{UserID: s.userID(rng.IntN(400)), ItemID: strconv.Itoa(1+rng.IntN(5000))}; valid[i]=true }
		req := &commitReq{op: opClicks, clicks: batch, valid: valid, done: make(chan struct{})}
		t0 := time.Now()
		e.wmu.Lock(); sb := e.apply([]*commitReq{req}, time.Now().UnixNano()); e.wmu.Unlock()
		t1 := time.Now()
		e.diskMu.Lock(); err := e.store.write(sb); e.diskMu.Unlock()
		t.Log("apply", t1.Sub(t0), "write", time.Since(t1), err, e.store.logRecords)
	}
	t0 := time.Now()
	e.diskMu.Lock(); e.store.checkpoint(); e.diskMu.Unlock()
	t.Log("ckpt", time.Since(t0))
}
