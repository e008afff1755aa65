//! MCAP layouts other writers produce: unchunked, lz4 chunks, zstd chunks, no summary.
//! Files written with the `mcap` crate's writer; read with sattva's reader.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use sattva::record::msgs::{self, RosMessage};
use sattva::replay::Bag;

fn write(opts: mcap::WriteOptions) -> Vec<u8> {
    let mut w = opts
        .profile("ros2")
        .create(Cursor::new(Vec::new()))
        .unwrap();
    let schema = w
        .add_schema(
            msgs::StringMsg::TYPE_NAME,
            "ros2msg",
            msgs::StringMsg::schema().as_bytes(),
        )
        .unwrap();
    let ch = w
        .add_channel(schema, "/chatter", "cdr", &BTreeMap::new())
        .unwrap();
    // out of log-time order on purpose: the reader sorts
    for (seq, t) in [30u64, 10, 20, 40, 50].into_iter().enumerate() {
        let data = msgs::encode(&msgs::StringMsg {
            data: format!("m{t}"),
        });
        w.write_to_known_channel(
            &mcap::records::MessageHeader {
                channel_id: ch,
                sequence: seq as u32,
                log_time: t,
                publish_time: t + 1,
            },
            &data,
        )
        .unwrap();
    }
    w.finish().unwrap();
    w.into_inner().into_inner()
}

fn check(buf: &[u8], what: &str) {
    let bag = Bag::from_mcap_bytes(Path::new(what), buf);
    assert!(bag.warnings.is_empty(), "{what}: {:?}", bag.warnings);
    let got: Vec<(i64, i64, String)> = bag
        .messages
        .iter()
        .map(|m| {
            (
                m.log_time,
                m.publish_time,
                msgs::decode::<msgs::StringMsg>(&m.data).unwrap().data,
            )
        })
        .collect();
    let want: Vec<(i64, i64, String)> = [10, 20, 30, 40, 50]
        .into_iter()
        .map(|t| (t, t + 1, format!("m{t}")))
        .collect();
    assert_eq!(got, want, "{what}");
}

#[test]
fn unchunked_lz4_zstd_and_summaryless_files_read_the_same() {
    check(
        &write(mcap::WriteOptions::new().use_chunks(false)),
        "unchunked",
    );
    check(
        &write(mcap::WriteOptions::new().compression(Some(mcap::Compression::Lz4))),
        "lz4",
    );
    check(
        &write(mcap::WriteOptions::new().compression(Some(mcap::Compression::Zstd))),
        "zstd",
    );
    check(
        &write(mcap::WriteOptions::new().compression(None)),
        "uncompressed",
    );
    check(
        &write(
            mcap::WriteOptions::new()
                .emit_summary_records(false)
                .emit_summary_offsets(false)
                .emit_message_indexes(false)
                .emit_chunk_indexes(false),
        ),
        "no summary",
    );
}

#[test]
fn bad_chunk_crc_is_reported_and_other_chunks_read() {
    // Tiny chunks so each message has its own; then flip one payload byte inside one chunk.
    let buf = write(
        mcap::WriteOptions::new()
            .compression(None)
            .chunk_size(Some(1)),
    );
    let needle = b"m30";
    let at = buf.windows(3).position(|w| w == needle).unwrap();
    let mut bad = buf.clone();
    bad[at + 1] = b'X';
    let bag = Bag::from_mcap_bytes(Path::new("crc.mcap"), &bad);
    assert!(
        bag.warnings.iter().any(|w| w.contains("CRC mismatch")),
        "{:?}",
        bag.warnings
    );
    let texts: Vec<String> = bag
        .messages
        .iter()
        .map(|m| msgs::decode::<msgs::StringMsg>(&m.data).unwrap().data)
        .collect();
    assert_eq!(texts, ["m10", "m20", "m40", "m50"]);
}
