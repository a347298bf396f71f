/*
 * curl_nossh - keeps libcurl from starting libssh2, which obs never uses.
 *
 * libcurl's global init (run by the first curl_easy_init) calls
 * libssh2_init() whatever protocols the program will use, and Debian's
 * libssh2 then initialises OpenSSL: ~1.5 MB of libcrypto made resident in
 * every obs process, for SCP and SFTP that an OTLP exporter never speaks
 * (the exporter restricts libcurl to http and https: CURLOPT_PROTOCOLS_STR).
 * This definition, in the executable, answers libcurl's call in its place
 * (the dynamic linker looks in the executable first); libssh2's own
 * libssh2_exit() does nothing for a library never initialised.
 * bench/http-overhead measures the collector's resident memory.
 */
int libssh2_init(int flags);

int libssh2_init(int flags)
{
	(void)flags;
	return 0;
}
