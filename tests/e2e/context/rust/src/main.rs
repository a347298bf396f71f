// A middle service of the context conformance matrix on tokio's
// multi-thread runtime (tasks move between worker threads) with hyper, no
// tracing code of its own: each request waits 1-15 ms, then calls the leaf
// with the same path through a shared keep-alive client.
//
//   ctx-mid PORT LEAF_URL
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Client, Request, Response, Server};
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn wait_ms() -> u64 {
    let n = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    1 + n % 15
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().unwrap();
    let leaf = args[2].clone();
    let client = Client::new();
    let make = make_service_fn(move |_| {
        let client = client.clone();
        let leaf = leaf.clone();
        async move {
            Ok::<_, Infallible>(service_fn(move |req: Request<Body>| {
                let client = client.clone();
                let uri = format!("{}{}", leaf, req.uri().path());
                async move {
                    tokio::time::sleep(Duration::from_millis(wait_ms())).await;
                    match client.get(uri.parse().unwrap()).await {
                        Ok(r) => Ok::<_, Infallible>(Response::new(r.into_body())),
                        Err(e) => Ok(Response::builder().status(502).body(Body::from(e.to_string())).unwrap()),
                    }
                }
            }))
        }
    });
    Server::bind(&([127, 0, 0, 1], port).into()).serve(make).await.unwrap();
}
