// A middle service of the context conformance matrix on Java 17, no
// tracing code of its own: com.sun.net.httpserver.HttpServer with a thread
// pool; each request waits 1-15 ms, then calls the leaf with the same path
// through java.net.http.HttpClient, synchronously (send) or asynchronously
// (sendAsync, the answer written from the client's completion thread).
//
//   java Mid.java sync|async PORT LEAF_URL
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;

public class Mid {
	static void answer(HttpExchange ex, int code, byte[] body) {
		try (OutputStream o = ex.getResponseBody()) {
			ex.sendResponseHeaders(code, body.length);
			o.write(body);
		} catch (Exception e) {
			ex.close();
		}
	}

	public static void main(String[] args) throws Exception {
		boolean async = args[0].equals("async");
		String leaf = args[2];
		HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
		HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1])), 256);
		server.setExecutor(Executors.newFixedThreadPool(32));
		server.createContext("/", ex -> {
			try {
				Thread.sleep(ThreadLocalRandom.current().nextInt(1, 16));
				HttpRequest req = HttpRequest.newBuilder(URI.create(leaf + ex.getRequestURI().getPath())).build();
				if (async) {
					client.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray())
					    .whenComplete((r, err) -> answer(ex, err == null ? 200 : 502,
						err == null ? r.body() : new byte[0]));
				} else {
					answer(ex, 200, client.send(req, HttpResponse.BodyHandlers.ofByteArray()).body());
				}
			} catch (Exception e) {
				answer(ex, 502, new byte[0]);
			}
		});
		server.start();
	}
}
