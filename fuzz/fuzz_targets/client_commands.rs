//! Client commands from any bytes, in JSON and MessagePack: a command or an
//! error, never a panic; a command that decodes encodes back to itself.
#![no_main]

use chinwag_protocol::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for encoding in [Encoding::Json, Encoding::MsgPack] {
        if let Ok(command) = encoding.decode_command(data) {
            let again = encoding.encode(&command).expect("a decoded command encodes");
            assert_eq!(encoding.decode_command(&again).expect("and decodes again"), command);
        }
    }
});
