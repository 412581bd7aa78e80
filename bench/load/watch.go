package load

import "github.com/userapi/userapi/bench/measure"

// watched is the server (pid, when positive) and loadgen itself over a
// measured phase.
type watched struct{ server, client measure.Watch }

func startWatch(pid int) (watched, error) {
	var m watched
	var err error
	if m.server, err = measure.WatchPID(pid); err != nil {
		return m, err
	}
	m.client, err = measure.WatchSelf()
	return m, err
}

// finish fills res.Server and res.Client.
func (m watched) finish(res *Result) error {
	var err error
	if res.Server, err = m.server.Usage(res.Responses); err != nil {
		return err
	}
	res.Client, err = m.client.Usage(res.Responses)
	return err
}
