package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"golang.org/x/sync/errgroup"
)

// profile runs one more get, not counted, while the API's CPU and
// allocation profiles are taken: profiling costs a few percent, so the
// measured runs go without it.
func (r *suiteRun) profile() error {
	paddr, err := harness.Addr(r.cfg.PprofPort, "-pprof-port")
	if err != nil {
		return err
	}
	srv, err := r.StartAPI("api-profile", r.cfg.APIKeyspace, "-pprof-listen", paddr)
	if err != nil {
		return err
	}
	defer r.Stop(srv)
	dir := filepath.Join(r.cfg.Out, "pprof")
	secs := max(1, int(r.cfg.Duration.Seconds())-1)
	kinds := map[string]string{"cpu": "profile", "allocs": "allocs"}
	var g errgroup.Group
	for k, path := range kinds {
		g.Go(func() error {
			if err := fetch(r.Ctx, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", paddr, path, secs),
				filepath.Join(dir, "api-get."+k+".pprof"), time.Duration(secs+30)*time.Second); err != nil {
				r.Logf("profile: %v", err)
			}
			return nil
		})
	}
	l := r.scenario(string(load.Get))
	l.Name, l.URL, l.Out = "api-get-profiled", srv.URL, filepath.Join(dir, "api-get-profiled.json")
	_, runErr := r.RunLoad(l)
	_ = g.Wait()
	if runErr != nil {
		return runErr
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		r.Logf("go is not on PATH: profiles left unsummarised in %s", dir)
		return nil
	}
	for _, k := range []string{"cpu", "allocs"} {
		raw := filepath.Join(dir, "api-get."+k+".pprof")
		if st, err := os.Stat(raw); err != nil || st.Size() == 0 {
			continue
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=30"}
		if k == "allocs" {
			args = append(args, "-sample_index=alloc_space") // bytes allocated during the run, not live
		}
		top, err := exec.CommandContext(r.Ctx, goTool, append(args, r.cfg.UserAPI, raw)...).Output()
		if err != nil {
			r.Logf("go tool pprof could not read the %s profile: %v", k, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "api-get-"+k+".txt"), top, 0o644); err != nil {
			return err
		}
	}
	r.Logf("profiles of a get-by-id run in %s", dir)
	return nil
}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
