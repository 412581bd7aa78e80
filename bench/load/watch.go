package load

import (
	"context"

	"github.com/userapi/userapi/bench/measure"
)

// measured runs l's plan over ops with the server (l.WatchPID, when
// positive) and loadgen itself watched over the measured phase, and
// describes the result: what Run and RunRaw share.
func (l Load) measured(ctx context.Context, ops []string, newWorker func(int) (worker, error)) (*Result, error) {
	server, err := measure.WatchPID(l.WatchPID)
	if err != nil {
		return nil, err
	}
	client, err := measure.WatchSelf()
	if err != nil {
		return nil, err
	}
	res, err := l.plan(ops).run(ctx, newWorker)
	if err != nil {
		return nil, err
	}
	if res.Server, err = server.Usage(res.Responses); err != nil {
		return nil, err
	}
	if res.Client, err = client.Usage(res.Responses); err != nil {
		return nil, err
	}
	l.describe(res)
	return res, nil
}
