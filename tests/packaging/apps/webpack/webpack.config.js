// A plain webpack 5 React app: babel-loader for the TSX and an HTML page. Nothing for
// presence-client (no `experiments`, no wasm rule).
import HtmlWebpackPlugin from "html-webpack-plugin";

export default {
  mode: "production",
  entry: "./src/index.tsx",
  output: { path: new URL("./dist", import.meta.url).pathname, clean: true },
  resolve: { extensions: [".tsx", ".ts", ".js"] },
  module: {
    rules: [
      {
        test: /\.tsx?$/,
        exclude: /node_modules/,
        use: {
          loader: "babel-loader",
          options: {
            presets: [
              ["@babel/preset-react", { runtime: "automatic", development: false }],
              "@babel/preset-typescript",
            ],
          },
        },
      },
    ],
  },
  plugins: [
    new HtmlWebpackPlugin({
      templateContent:
        '<!doctype html><html><head><meta charset="utf-8"><title>presence packaging</title></head><body><div id="root"></div></body></html>',
    }),
  ],
};
