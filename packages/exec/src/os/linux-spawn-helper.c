/*
 * fleet-exec's native spawn helper for local Linux members: the same job and the same answers as
 * the shell helper (SPAWN_HELPER in unix.ts), without its process executions. Compiled on first use
 * by linux-spawn-native.ts when the machine has a C compiler; the shell helper is used otherwise.
 *
 * Requests arrive on stdin as NUL-terminated fields (no quoting: a field is any bytes but NUL):
 *   run   <id> <cwd> <cgroup|-> <runDir> <argc> <argv…>
 *   start <id> <cwd> <cgroup|-> <argc> <argv…>
 * Each is answered on stdout with one line `FLEET_SPAWNED:<id>:<pid|workfolder_missing|spawn_failed>`.
 *
 * `run` forks the waiter W (outside the run's session, stdio on /dev/null); W vforks C, which writes
 * the run's record `C:bootId:startTime:W:startTimeOfW` (exclusive create: a run claimed as never
 * started never starts), joins the cgroup, calls setsid(2) and execs the agent with the prompt on
 * stdin and output to `out` — the shell helper needs an exec of setsid(1) and two shell forks for
 * this. W waits for C and appends its exit code (128 + signal for a signal, as sh reports it) when
 * line 1 of the record still names C. The answer is W's PID. `start` runs any command in a new
 * session (stdio on /dev/null); the answer is its PID. A vfork suspends its parent until the exec:
 * W, never the helper, is the one suspended (it has nothing else to do).
 *
 * The helper lives in its own session; runs outlive it (they only hold /dev/null and their files).
 * On end of input it exits; W processes go on. Children are reaped by the kernel (SIGCHLD ignored
 * here, restored to the default in everything we start, with every other signal disposition).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char boot_id[64];

static void answer(const char *id, const char *what) {
  char line[128];
  int n = snprintf(line, sizeof line, "FLEET_SPAWNED:%s:%s\n", id, what);
  if (n > 0 && n < (int)sizeof line) {
    ssize_t w = write(1, line, (size_t)n);
    (void)w;
  }
}

static void answer_pid(const char *id, pid_t pid) {
  char num[24];
  snprintf(num, sizeof num, "%d", (int)pid);
  answer(id, num);
}

/* Field 22 of /proc/self/stat (start time in clock ticks), as text; "" if unreadable. Syscalls only. */
static void self_start(char *out, size_t size) {
  char buf[1024];
  out[0] = 0;
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return;
  p++;
  /* after ") ": field 3 is the first; field 22 is the 20th from there */
  for (int field = 2; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return;
  size_t i = 0;
  while (p[i] >= '0' && p[i] <= '9' && i + 1 < size) {
    out[i] = p[i];
    i++;
  }
  out[i] = 0;
}

static void restore_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    signal(s, SIG_DFL);
  }
}

static void null_stdio(void) {
  int fd = open("/dev/null", O_RDWR);
  if (fd < 0) return;
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
}

static void join_cgroup(const char *cgroup) {
  if (strcmp(cgroup, "-") == 0) return;
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", cgroup) >= (int)sizeof path) return;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return; /* unjoined: the caller detects it (linux-cgroup.ts) */
  ssize_t w = write(fd, "0", 1);
  (void)w;
  close(fd);
}

/*
 * What execvp would run, resolved before a vfork (PATH search allocates): `file` itself when it has
 * a slash (relative to the working directory, as the exec will see it), else the first executable
 * PATH entry. NULL when nothing is found (errno set).
 */
static char *resolve(const char *file, const char *cwd) {
  if (strchr(file, '/')) return strdup(file);
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(file);
  int err = ENOENT;
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    char *cand;
    if (dlen == 0) {
      cand = strdup(file);
    } else if (p[0] != '/') {
      if (asprintf(&cand, "%s/%.*s/%s", cwd, (int)dlen, p, file) < 0) cand = NULL;
    } else {
      cand = malloc(dlen + flen + 2);
      if (cand) {
        memcpy(cand, p, dlen);
        cand[dlen] = '/';
        memcpy(cand + dlen + 1, file, flen + 1);
      }
    }
    if (cand) {
      struct stat st;
      /* relative candidates are checked from cwd (the helper itself never changes directory) */
      const char *check = cand;
      char *abs = NULL;
      if (cand[0] != '/' && asprintf(&abs, "%s/%s", cwd, cand) >= 0) check = abs;
      int ok = stat(check, &st) == 0 && S_ISREG(st.st_mode) && access(check, X_OK) == 0;
      if (!ok && errno == EACCES) err = EACCES;
      free(abs);
      if (ok) return cand;
      free(cand);
    }
    if (*end == 0) break;
    p = end;
  }
  errno = err;
  return NULL;
}

/* In a vforked child: exec, and on failure report it to stderr and exit as sh would (126/127). */
static void exec_or_die(const char *path, char *const argv[], int argc) {
  if (path) {
    execve(path, argv, environ);
    if (errno == ENOEXEC) {
      /* a script without #!: sh runs it, as execvp does */
      char *sh_argv[argc + 2];
      sh_argv[0] = (char *)"sh";
      sh_argv[1] = (char *)path;
      for (int i = 1; i <= argc; i++) sh_argv[i + 1] = argv[i];
      execve("/bin/sh", sh_argv, environ);
    }
  }
  int e = errno;
  /* (no strerror: it may allocate, and this process shares its memory with a suspended parent) */
  const char *msg = e == ENOENT ? "No such file or directory" : e == EACCES ? "Permission denied" : e == ENOEXEC ? "Exec format error" : "cannot execute";
  ssize_t w;
  w = write(2, "fleet-spawn: ", 13);
  w = write(2, argv[0], strlen(argv[0]));
  w = write(2, ": ", 2);
  w = write(2, msg, strlen(msg));
  w = write(2, "\n", 1);
  (void)w;
  _exit(e == ENOENT ? 127 : 126);
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void do_start(const char *id, const char *cwd, const char *cgroup, int argc, char **argv) {
  if (!is_dir(cwd)) {
    answer(id, "workfolder_missing");
    return;
  }
  char *path = resolve(argv[0], cwd);
  int saved = errno;
  /* (a fork, not a vfork: joining a cgroup can take ~10 ms, which must not stall the helper) */
  pid_t pid = fork();
  if (pid == 0) {
    restore_signals();
    null_stdio();
    join_cgroup(cgroup);
    if (chdir(cwd) != 0) _exit(127);
    setsid();
    errno = saved;
    exec_or_die(path, argv, argc);
  }
  free(path);
  if (pid < 0) answer(id, "spawn_failed");
  else answer_pid(id, pid);
}

static void do_run(const char *id, const char *cwd, const char *cgroup, const char *run_dir, int argc, char **argv) {
  if (!is_dir(cwd)) {
    answer(id, "workfolder_missing");
    return;
  }
  char rec_path[PATH_MAX], prompt_path[PATH_MAX], out_path[PATH_MAX];
  if (snprintf(rec_path, sizeof rec_path, "%s/pid", run_dir) >= (int)sizeof rec_path ||
      snprintf(prompt_path, sizeof prompt_path, "%s/prompt", run_dir) >= (int)sizeof prompt_path ||
      snprintf(out_path, sizeof out_path, "%s/out", run_dir) >= (int)sizeof out_path) {
    answer(id, "spawn_failed");
    return;
  }
  pid_t w = fork();
  if (w < 0) {
    answer(id, "spawn_failed");
    return;
  }
  if (w > 0) {
    answer_pid(id, w);
    return;
  }

  /* W, the waiter */
  restore_signals();
  null_stdio();
  if (chdir(cwd) != 0) _exit(97);
  char w_start[32];
  self_start(w_start, sizeof w_start);
  pid_t w_pid = getpid();
  char *path = resolve(argv[0], cwd);
  int saved = errno;
  pid_t c = vfork();
  if (c == 0) {
    /* C: the record first, then the cgroup, the session, the agent */
    char c_start[32];
    self_start(c_start, sizeof c_start);
    char rec[256];
    int n = snprintf(rec, sizeof rec, "%d:%s:%s:%d:%s\n", (int)getpid(), boot_id, c_start, (int)w_pid, w_start);
    int fd = open(rec_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) _exit(96);
    ssize_t wr = write(fd, rec, (size_t)n);
    close(fd);
    if (wr != n) _exit(96);
    join_cgroup(cgroup);
    setsid();
    int in = open(prompt_path, O_RDONLY);
    if (in < 0) _exit(2);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out < 0) _exit(2);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    if (in > 2) close(in);
    if (out > 2) close(out);
    errno = saved;
    exec_or_die(path, argv, argc);
  }
  free(path);
  if (c < 0) _exit(1);
  int status = 0;
  while (waitpid(c, &status, 0) < 0) {
    if (errno != EINTR) _exit(1);
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
  /* Append the exit code only while line 1 names C (a run claimed as never started keeps its claim). */
  char prefix[32];
  int plen = snprintf(prefix, sizeof prefix, "%d:", (int)c);
  char head[64];
  int fd = open(rec_path, O_RDONLY | O_CLOEXEC);
  ssize_t got = fd < 0 ? -1 : read(fd, head, sizeof head);
  if (fd >= 0) close(fd);
  if (got >= plen && memcmp(head, prefix, (size_t)plen) == 0) {
    char line[16];
    int ln = snprintf(line, sizeof line, "%d\n", code);
    fd = open(rec_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t wr = write(fd, line, (size_t)ln);
      (void)wr;
      close(fd);
    }
  }
  _exit(0);
}

/* Parses one request at buf[0..len); returns its length, 0 if incomplete, -1 if malformed. */
static long parse(char *buf, size_t len, char **fields, int max_fields, int *nfields) {
  size_t pos = 0;
  int n = 0;
  int want = 0; /* total fields, known once the header is read */
  for (;;) {
    char *nul = memchr(buf + pos, 0, len - pos);
    if (!nul) return 0;
    if (n >= max_fields) return -1;
    fields[n++] = buf + pos;
    pos = (size_t)(nul - buf) + 1;
    if (n == 1 && strcmp(fields[0], "run") != 0 && strcmp(fields[0], "start") != 0) return -1;
    int argc_at = strcmp(fields[0], "run") == 0 ? 6 : 5;
    if (n == argc_at) {
      char *e;
      long argc = strtol(fields[argc_at - 1], &e, 10);
      if (*e || argc < 1 || argc > max_fields - argc_at - 1) return -1;
      want = argc_at + (int)argc;
    }
    if (want && n == want) {
      *nfields = n;
      return (long)pos;
    }
  }
}

static int valid_id(const char *s) {
  if (!*s || strlen(s) > 20) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps what we fork */
  int bfd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (bfd >= 0) {
    ssize_t n = read(bfd, boot_id, sizeof boot_id - 1);
    close(bfd);
    if (n > 0) boot_id[n] = 0;
    char *nl = strchr(boot_id, '\n');
    if (nl) *nl = 0;
  }
  enum { MAX_FIELDS = 65536, MAX_BUF = 64 << 20 };
  char **fields = malloc(sizeof(char *) * (MAX_FIELDS + 1));
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!fields || !buf) return 1;
  const char ready[] = "FLEET_HELPER:ready\n";
  if (write(1, ready, sizeof ready - 1) < 0) return 1;
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_BUF) return 1;
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) return 1;
      buf = nb;
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    len += (size_t)n;
    for (;;) {
      int nf = 0;
      long used = parse(buf, len, fields, MAX_FIELDS, &nf);
      if (used < 0) return 1; /* not our protocol: stop (the caller falls back) */
      if (used == 0) break;
      char *id = fields[1];
      int is_run = strcmp(fields[0], "run") == 0;
      const char *cgroup = fields[3];
      int argc = nf - (is_run ? 6 : 5);
      char **argv = fields + (is_run ? 6 : 5);
      char *saved = argv[argc];
      argv[argc] = NULL; /* argv for execve: the fields array, NULL-terminated */
      if (!valid_id(id) || (strcmp(cgroup, "-") != 0 && cgroup[0] != '/')) return 1;
      if (is_run) do_run(id, fields[2], cgroup, fields[4], argc, argv);
      else do_start(id, fields[2], cgroup, argc, argv);
      argv[argc] = saved;
      memmove(buf, buf + used, len - (size_t)used);
      len -= (size_t)used;
    }
  }
}
