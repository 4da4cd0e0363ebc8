package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// procInfo is what /proc tells about the server process.
type procInfo struct {
	CPUSeconds float64 // utime+stime
	RSSMiB     float64 // VmRSS
	AnonMiB    float64 // RssAnon (heap and stacks; the bbolt mmap is RssFile)
	FileMiB    float64 // RssFile
	PeakRSSMiB float64 // VmHWM
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func readProc(pid int) procInfo {
	var p procInfo
	if pid <= 0 {
		return p
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(dir + "/stat"); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			// fields after ")": state(0) ... utime(11) stime(12)
			if len(f) > 12 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				st, _ := strconv.ParseFloat(f[12], 64)
				p.CPUSeconds = (ut + st) / clockTicks
			}
		}
	}
	f, err := os.Open(dir + "/status")
	if err != nil {
		return p
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		kb, _ := strconv.ParseFloat(fs[0], 64)
		mib := kb / 1024
		switch k {
		case "VmRSS":
			p.RSSMiB = mib
		case "RssAnon":
			p.AnonMiB = mib
		case "RssFile":
			p.FileMiB = mib
		case "VmHWM":
			p.PeakRSSMiB = mib
		}
	}
	return p
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

type machine struct {
	Cores        int    `json:"cores"`
	CPU          string `json:"cpu"`
	MemGiB       int    `json:"mem_gib"`
	Kernel       string `json:"kernel"`
	GoVersion    string `json:"go"`
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
	ServerIdle   struct {
		RSSMiB  float64 `json:"rss_mib,omitempty"`
		AnonMiB float64 `json:"rss_anon_mib,omitempty"`
		PeakMiB float64 `json:"peak_rss_mib,omitempty"`
	} `json:"server_at_start"`
}

func readMachine(pid int) machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				fs := strings.Fields(l)
				if len(fs) > 1 {
					kb, _ := strconv.Atoi(fs[1])
					m.MemGiB = (kb + 512*1024) / (1024 * 1024)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	p := readProc(pid)
	m.ServerIdle.RSSMiB, m.ServerIdle.AnonMiB, m.ServerIdle.PeakMiB = p.RSSMiB, p.AnonMiB, p.PeakRSSMiB
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fs := strings.Fields(string(b))
	if len(fs) < 3 {
		return ""
	}
	return strings.Join(fs[:3], " ")
}
