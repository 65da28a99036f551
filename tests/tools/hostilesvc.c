/*
 * hostilesvc.c: a shadow that misbehaves, for bench/hostile.sh (the
 * e2e tests have their own in Python). One thread per connection,
 * blocking I/O: the point is the proxy's behaviour, not this server's.
 *
 *   hostilesvc --port N --mode MODE
 *
 * Modes, per connection, after reading a request head:
 *   endless   a 200 with a chunked body that never ends (64 KiB chunks)
 *   garbage   bytes that are not HTTP, then close
 *   reset     (before reading) close with RST
 *   stall     a head promising 1000 bytes, ten of them, then silence
 *   slowread  (instead of reading) takes the request a byte every 10 ms
 *             and never answers
 * Prints "hostilesvc: listening on 127.0.0.1:PORT" once bound.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *mode;

/* Reads until a blank line ends a head; false on EOF or error. */
static bool read_head(int fd)
{
	char b[4096];
	char tail[4] = {0};
	for (;;) {
		ssize_t n = read(fd, b, sizeof(b));
		if (n <= 0)
			return false;
		for (ssize_t i = 0; i < n; i++) {
			memmove(tail, tail + 1, 3);
			tail[3] = b[i];
			if (!memcmp(tail, "\r\n\r\n", 4))
				return true;
		}
	}
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	if (!strcmp(mode, "reset")) {
		struct linger l = {1, 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	} else if (!strcmp(mode, "slowread")) {
		char c;
		struct timespec ts = {0, 10 * 1000000};
		while (read(fd, &c, 1) == 1)
			nanosleep(&ts, NULL);
	} else if (read_head(fd)) {
		if (!strcmp(mode, "endless")) {
			static char chunk[8 + 65536 + 2];
			memcpy(chunk, "10000\r\n", 7);
			memset(chunk + 7, 'z', 65536);
			memcpy(chunk + 7 + 65536, "\r\n", 2);
			const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
					"chunked\r\n\r\n";
			if (write_all(fd, h, strlen(h)))
				while (write_all(fd, chunk, 7 + 65536 + 2))
					;
		} else if (!strcmp(mode, "garbage")) {
			const char *g = "\x01\x02 garbage, not HTTP\r\n\r\n";
			write_all(fd, g, strlen(g));
		} else if (!strcmp(mode, "stall")) {
			const char *h = "HTTP/1.1 200 OK\r\nContent-Length: "
					"1000\r\n\r\n0123456789";
			char b[4096];
			if (write_all(fd, h, strlen(h)))
				while (read(fd, b, sizeof(b)) > 0)
					;
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int port = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[i + 1];
	}
	if (port < 0 || !mode ||
	    (strcmp(mode, "endless") && strcmp(mode, "garbage") &&
	     strcmp(mode, "reset") && strcmp(mode, "stall") &&
	     strcmp(mode, "slowread"))) {
		fprintf(stderr, "usage: hostilesvc --port N --mode "
				"endless|garbage|reset|stall|slowread\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(0x7f000001)};
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1024)) {
		fprintf(stderr, "hostilesvc: cannot listen on %d: %s\n", port,
			strerror(errno));
		return 1;
	}
	printf("hostilesvc: listening on 127.0.0.1:%d\n", port);
	fflush(stdout);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 * 1024);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			struct timespec ts = {0, 10 * 1000000};
			nanosleep(&ts, NULL); /* EMFILE: let threads finish */
			continue;
		}
		pthread_t t;
		if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd))
			close(fd);
	}
}
