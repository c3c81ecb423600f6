package dev.mobilekit.benchcore;

import java.io.File;

import org.json.JSONObject;

/**
 * Parses bench request files as the app does and prints, per file, one JSON line:
 * {"file": ..., "ok": true, "request": {the request with defaults filled in}} or
 * {"file": ..., "ok": false, "field": "delegate.threads", "message": "..."}.
 * Exit status 0 when all parsed, 1 otherwise.
 * Usage: java dev.mobilekit.benchcore.ValidateMain REQUEST.json [...]
 */
public final class ValidateMain {
    private ValidateMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: ValidateMain REQUEST.json [...]");
            System.exit(2);
        }
        int status = 0;
        for (String path : args) {
            JSONObject line = new JSONObject();
            line.put("file", path);
            try {
                BenchRequest request = BenchRequest.fromFile(new File(path));
                line.put("ok", true);
                line.put("request", request.toJson());
            } catch (RequestException e) {
                line.put("ok", false);
                line.put("field", e.field);
                line.put("message", e.getMessage());
                status = 1;
            }
            System.out.println(line);
        }
        System.exit(status);
    }
}
