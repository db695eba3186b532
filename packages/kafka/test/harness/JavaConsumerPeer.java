// Kafka's Java consumer (kafka-clients from the cached Apache Kafka jars) as a test peer, the same
// cases as aiokafka_peer.py: one consumer per case on a prepared one-partition topic, no group,
// manual assignment, seek to the position, poll with auto.offset.reset = the setting. When it has
// settled (its position moved off the seek and reached the end of the log) one marker record is
// produced with the Java producer, and the case ends when the marker arrives, when an exception
// reaches the caller, or after the deadline.
//
// Arguments: bootstrap, deadline in seconds, then one "id,topic,position,setting" per case.
// Output: "CASE id" when a case starts, the client's log lines ("LOG LEVEL message", log4j2), then
// "RESULT {json}" with id, version, setting, position, offsets, resetTo, marker, markerDelivered,
// error {type, message} or null, timedOut.
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class JavaConsumerPeer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    long deadlineMs = Long.parseLong(args[1]) * 1000;
    for (int i = 2; i < args.length; i++) {
      String[] c = args[i].split(",", 4);
      System.out.println("CASE " + c[0]);
      System.out.flush();
      String result = runCase(bootstrap, c[0], c[1], Long.parseLong(c[2]), c[3], deadlineMs);
      System.out.println("RESULT " + result);
      System.out.flush();
    }
  }

  static String runCase(String bootstrap, String id, String topic, long position, String setting, long deadlineMs)
      throws Exception {
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, setting);
    cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
    cp.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-peer-" + id);
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.ACKS_CONFIG, "all");
    TopicPartition tp = new TopicPartition(topic, 0);
    List<Long> offsets = new ArrayList<>();
    Long resetTo = null;
    Long marker = null;
    boolean delivered = false;
    boolean timedOut = false;
    String errorType = null;
    String errorMessage = null;
    try (KafkaConsumer<byte[], byte[]> consumer =
            new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        KafkaProducer<byte[], byte[]> producer =
            new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
      consumer.assign(List.of(tp));
      consumer.seek(tp, position);
      long ends = System.currentTimeMillis() + deadlineMs;
      while (true) {
        if (System.currentTimeMillis() >= ends) {
          timedOut = true;
          break;
        }
        List<ConsumerRecord<byte[], byte[]>> batch;
        try {
          batch = consumer.poll(Duration.ofMillis(200)).records(tp);
        } catch (KafkaException e) {
          // what reaches the user is the measurement
          errorType = e.getClass().getSimpleName();
          errorMessage = e.getMessage();
          break;
        }
        for (ConsumerRecord<byte[], byte[]> r : batch) offsets.add(r.offset());
        if (marker != null) {
          if (offsets.contains(marker)) {
            delivered = true;
            break;
          }
          continue;
        }
        long now = consumer.position(tp);
        if (now != position && resetTo == null) resetTo = offsets.isEmpty() ? now : offsets.get(0);
        long end = consumer.endOffsets(List.of(tp)).get(tp);
        if (resetTo != null && now == end) {
          marker = producer.send(new ProducerRecord<>(topic, 0, null, "marker".getBytes())).get().offset();
        }
      }
    }
    StringBuilder json = new StringBuilder();
    json.append("{\"id\":").append(str(id));
    json.append(",\"client\":\"java\",\"version\":").append(str(clientVersion()));
    json.append(",\"setting\":").append(str(setting));
    json.append(",\"position\":").append(position);
    json.append(",\"offsets\":[");
    for (int i = 0; i < offsets.size(); i++) json.append(i == 0 ? "" : ",").append(offsets.get(i));
    json.append("],\"resetTo\":").append(resetTo == null ? "null" : resetTo.toString());
    json.append(",\"marker\":").append(marker == null ? "null" : marker.toString());
    json.append(",\"markerDelivered\":").append(delivered);
    json.append(",\"error\":");
    if (errorType == null) json.append("null");
    else json.append("{\"type\":").append(str(errorType)).append(",\"message\":").append(str(errorMessage)).append("}");
    json.append(",\"timedOut\":").append(timedOut).append("}");
    return json.toString();
  }

  // kafka-clients' own version file (its AppInfoParser moved packages between 3.x and 4.x)
  static String clientVersion() throws Exception {
    Properties p = new Properties();
    try (var in = KafkaConsumer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      if (in != null) p.load(in);
    }
    return p.getProperty("version", "unknown");
  }

  static String str(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') b.append('\\').append(ch);
      else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
      else b.append(ch);
    }
    return b.append('"').toString();
  }
}
