/*
 * cpuclient: the one C client (libvirt's own client library) that the
 * bench's cpu suite drives against both daemons, so that the server CPU
 * measured per call does not depend on which client library sent it.
 *
 *   cpuclient URI PID info|list SECONDS [DOMAIN]
 *
 * It connects, warms up, then calls virDomainGetInfo (info) or
 * virConnectListAllDomains (list) back to back for SECONDS of wall time,
 * reading utime+stime of PID from /proc/PID/stat just before and just
 * after. It prints one line: "calls CPU-ns wall-ns".
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long cpu_ns(const char *pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces; fields count from its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ')': state(3) ... utime is field 14, stime field 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st) * (1000000000LL / sysconf(_SC_CLK_TCK));
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int one(virConnectPtr conn, virDomainPtr dom, int list)
{
    if (list) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0)
            return -1;
        for (int i = 0; i < n; i++)
            virDomainFree(doms[i]);
        free(doms);
        return 0;
    }
    virDomainInfo info;
    return virDomainGetInfo(dom, &info);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cpuclient URI PID info|list SECONDS [DOMAIN]\n");
        return 2;
    }
    int list = strcmp(argv[3], "list") == 0;
    double secs = atof(argv[4]);
    virConnectPtr conn = virConnectOpen(argv[1]);
    if (!conn)
        return 1;
    virDomainPtr dom = NULL;
    if (!list) {
        dom = virDomainLookupByName(conn, argc > 5 ? argv[5] : "test");
        if (!dom)
            return 1;
    }
    for (int i = 0; i < 50; i++)
        if (one(conn, dom, list) < 0)
            return 1;
    long long c0 = cpu_ns(argv[2]), t0 = now_ns(), end = t0 + (long long)(secs * 1e9);
    long long calls = 0, t1;
    do {
        if (one(conn, dom, list) < 0)
            return 1;
        calls++;
    } while ((t1 = now_ns()) < end);
    long long c1 = cpu_ns(argv[2]);
    if (c0 < 0 || c1 < 0) {
        fprintf(stderr, "cpuclient: cannot read /proc/%s/stat\n", argv[2]);
        return 1;
    }
    printf("%lld %lld %lld\n", calls, c1 - c0, t1 - t0);
    if (dom)
        virDomainFree(dom);
    virConnectClose(conn);
    return 0;
}
