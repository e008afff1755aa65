//! The RT side of the recorder (`RecordSink::push`) allocates nothing, full queue or not.

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::record::{record_queue, Sample};
use sattva::types::{Command, CommandMode, Imu, JointSample, JointVec, Time};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn push_does_not_allocate() {
    let (sink, _source) = record_queue(256);
    let mut joints = JointSample::default();
    joints.position.extend([0.1; 12]);
    joints.velocity.extend([0.2; 12]);
    let mut values = JointVec::new();
    values.extend([0.3; 12]);
    let imu = Imu {
        accel: [0.0, 0.0, 9.81],
        gyro: [0.1, 0.2, 0.3],
        mag: Some([1.0, 0.0, 0.0]),
    };
    let before = allocations_on_this_thread();
    for k in 0..1000 {
        // 3000 pushes into 256 slots: most of them hit a full queue (drop + count).
        let t = Time(k);
        std::hint::black_box(sink.push(Sample::Imu { t, imu }));
        std::hint::black_box(sink.push(Sample::Joints {
            t,
            joints: joints.clone(),
        }));
        std::hint::black_box(sink.push(Sample::Command(Command {
            t,
            mode: CommandMode::Position,
            values: values.clone(),
        })));
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "push allocated {n} times");
    let st = sink.stats();
    assert_eq!(st.pushed, 256);
    assert_eq!(st.dropped, 3000 - 256);
}

#[test]
fn counter_sees_allocations() {
    let before = allocations_on_this_thread();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations_on_this_thread() > before);
    drop(v);
}
