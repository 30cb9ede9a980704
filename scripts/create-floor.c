/* The floor of writing FILES small copies: create FILES files of 8 bytes
 * each in 500-file folders under DIR (open, pwrite, close; no hashing, no
 * reading), as `recover` and `tsk_recover` lay out the copies of the
 * many-files benchmark image. Prints the wall time.
 * Usage: create-floor DIR FILES */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: create-floor DIR FILES\n");
        return 2;
    }
    long n = atol(argv[2]);
    char p[4096];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (i % 500 == 0) {
            snprintf(p, sizeof p, "%s/d%06ld", argv[1], i / 500);
            if (mkdir(p, 0755) != 0) {
                perror(p);
                return 1;
            }
        }
        snprintf(p, sizeof p, "%s/d%06ld/file-%07ld.txt", argv[1], i / 500, i);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char line[16];
        int len = snprintf(line, sizeof line, "%ld\n", i);
        if (fd < 0 || pwrite(fd, line, (size_t)len, 0) != len || close(fd) != 0) {
            perror(p);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}
