package dev.mobilekit.benchcore;

import org.json.JSONException;
import org.json.JSONObject;

/** org.json helpers: nulls become JSON null instead of a missing key, and no checked exceptions. */
final class Json {
    private Json() {
    }

    static void put(JSONObject o, String key, Object value) {
        try {
            o.put(key, value == null ? JSONObject.NULL : value);
        } catch (JSONException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }
}
